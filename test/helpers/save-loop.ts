// Child process of the kill-during-save tests: loads the models named on the
// command line and saves them into one directory, alternately, forever.
// Prints "ready" once loaded; a refused concurrent save (E_STATE) is counted
// and retried; any other error exits with status 2.
import { Model, PoserError } from '../../src/index.js';

const [target, ...sources] = process.argv.slice(2);
const models = await Promise.all(sources.map((s) => Model.load(s, { tokenizer: false })));
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  try {
    await models[i % models.length].save(target);
  } catch (error) {
    if (error instanceof PoserError && error.code === 'E_STATE') continue;
    process.stderr.write(`save failed: ${(error as Error).message}\n`);
    process.exit(2);
  }
}
