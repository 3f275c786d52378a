// Prints the Khronos glTF-Validator's JSON report for one .glb or .gltf file.
//
//   node tests/gltf-validator/validate.mjs FILE
//
// Exit status: 0 when the report was printed (whatever it says), 2 on bad usage or an
// unreadable file. The Rust helper tests/support/gltf_validator.rs calls this and judges
// the report (0 errors, 0 warnings).
import fs from 'node:fs';
import path from 'node:path';
import validator from 'gltf-validator';

const file = process.argv[2];
if (!file || process.argv.length > 3) {
  console.error('usage: node validate.mjs FILE.glb|FILE.gltf');
  process.exit(2);
}
let bytes;
try {
  bytes = new Uint8Array(fs.readFileSync(file));
} catch (e) {
  console.error(`cannot read ${file}: ${e.message}`);
  process.exit(2);
}
const dir = path.dirname(file);
const report = await validator.validateBytes(bytes, {
  uri: path.basename(file),
  maxIssues: 200,
  writeTimestamp: false,
  // External buffers/images of a .gltf resolve beside the file.
  externalResourceFunction: (uri) =>
    new Promise((resolve, reject) => {
      fs.readFile(path.join(dir, decodeURIComponent(uri)), (err, data) =>
        err ? reject(err.toString()) : resolve(new Uint8Array(data)));
    }),
});
process.stdout.write(JSON.stringify(report, null, 1) + '\n');
