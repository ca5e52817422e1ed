// Vite build of the dashboard (SPEC C1): web/ → dist/web/, which the API serves at "/".
// Run from the repository root (`npm run build:web`); paths are relative to it.
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'web',
  base: './',
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  server: {
    // `npx vite --config web/vite.config.ts` during development: API calls go to a local Waymark.
    proxy: { '/v1': 'http://127.0.0.1:8053' },
  },
});
