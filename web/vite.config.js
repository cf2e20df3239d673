import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Built into web/dist, which Dure's API process serves at "/".
// `npm run dev` proxies the API to a `dure up` on port 8000.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1200 },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
});
