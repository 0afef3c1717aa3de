// WGSL kernel files are imported as their source text. The build (scripts/build.mjs, esbuild's
// text loader) and the test runner (vitest.config.ts) both turn `import src from './x.wgsl'`
// into a string constant, so the shaders ship inside the bundle: no runtime file reads.
declare module '*.wgsl' {
  const source: string;
  export default source;
}
