// The console (issue 17): Vue 3 + Vant, built by Vite into console/dist, served by the platform at /.
// Nothing is fetched from outside at run time: every script, style and font is in the build.
import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

/** Vant's icon font names a CDN copy after its inline one: the console fetches nothing from outside. */
const noCdn = {
  name: 'no-cdn',
  enforce: 'pre',
  transform(code, id) {
    if (id.includes('vant') && id.endsWith('.css')) return code.replace(/,\s*url\(\/\/at\.alicdn\.com[^)]*\)\s*format\("woff"\)/g, '');
  },
};

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [noCdn, vue()],
  build: { outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0, chunkSizeWarningLimit: 1500 },
  logLevel: 'warn',
});
