// Preloaded (NODE_OPTIONS=--require) into a process under test, and into every process it starts: at exit,
// writes the @tensorflow modules the process loaded to $LOADED_MODULES_DIR/<pid>.json. tfjs is CommonJS, so
// whatever imported it (require, import, tsx) it is in require.cache.
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.LOADED_MODULES_DIR;
if (dir) {
  process.on('exit', () => {
    const tensorflow = Object.keys(require.cache).filter((path) => path.includes('/@tensorflow/'));
    writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify({ argv: process.argv.slice(1), tensorflow }));
  });
}
