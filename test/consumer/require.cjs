// The package from CommonJS: Node >= 20.19 loads its ES modules through require().
'use strict';
const assert = require('node:assert/strict');
const poser = require('poser-torch');
const primitives = require('poser-torch/primitives');

assert.equal(typeof poser.Model.load, 'function');
assert.equal(typeof poser.PoserError, 'function');
assert.equal(typeof primitives.mean, 'function');
assert.equal(poser.mean, undefined, 'helpers stay out of the root entry');
console.log(`consumer (CommonJS): ${Object.keys(poser).length} root exports, libtorch ${poser.buildInfo().torchVersion}`);
