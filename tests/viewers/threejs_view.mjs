// Renders a GLB with three.js's GLTFLoader in headless Chromium and saves a screenshot.
//
//   node tests/viewers/threejs_view.mjs FILE.glb OUT.png EYE TARGET FOV [SIZE]
//
// EYE and TARGET are "x,y,z"; FOV is the vertical field of view in degrees. The page
// (view.html) draws on a pure green background (#00ff00) and reports through its title
// ("rendered", "rendered textured" or "error: ..."), which this script prints. The page
// keeps a request to /hold open until it has reported, which holds Chromium's virtual
// time, so the screenshot is taken after the asset is drawn. three.js
// and the GLB come from a loopback HTTP server; the browser is `chromium` (or
// $CHROMIUM), run headless with the flags Debian's Chromium needs in a container.
// Exit status 0 when the page rendered and the screenshot was written.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [glb, out, eye, target, fov, size = '512'] = process.argv.slice(2);
if (!glb || !out || !eye || !target || !fov) {
  console.error('usage: node threejs_view.mjs FILE.glb OUT.png EYE TARGET FOV [SIZE]');
  process.exit(2);
}
let title = null;
let held = [];
const types = { '.html': 'text/html', '.js': 'text/javascript', '.glb': 'model/gltf-binary' };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/report') {
    title = url.searchParams.get('title');
    res.writeHead(204);
    res.end();
    // Release the page's pending request a moment later, once the frame is drawn.
    setTimeout(() => { for (const r of held) { r.writeHead(204); r.end(); } held = []; }, 200);
    return;
  }
  if (url.pathname === '/hold') {
    if (title) { res.writeHead(204); res.end(); } else { held.push(res); }
    return;
  }
  let file;
  if (url.pathname === '/view.html') file = path.join(here, 'view.html');
  else if (url.pathname === '/asset.glb') file = path.resolve(glb);
  else if (url.pathname.startsWith('/three/')) file = path.join(here, 'node_modules', url.pathname.slice(1));
  if (!file || !fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const page = `http://127.0.0.1:${port}/view.html?glb=/asset.glb&eye=${eye}&target=${target}&fov=${fov}&size=${size}`;
  const browser = process.env.CHROMIUM || 'chromium';
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--enable-unsafe-swiftshader', '--use-angle=swiftshader',
    '--hide-scrollbars', `--window-size=${size},${size}`, '--virtual-time-budget=30000',
    `--screenshot=${path.resolve(out)}`, page,
  ];
  const child = spawn(browser, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
  child.on('close', (status) => {
    clearTimeout(timer);
    server.close();
    console.log(`title: ${title}`);
    if (status !== 0 || !fs.existsSync(out) || !title || !title.startsWith('rendered')) {
      console.error(`${browser} failed (status ${status}, page said ${title}): ${stderr.slice(-2000)}`);
      process.exit(1);
    }
    process.exit(0);
  });
});
