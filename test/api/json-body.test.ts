/**
 * The JSON body parser's shape check on its own: the pointer it names through escapes, keys that need
 * pointer escaping and strings that hold brackets, and that what fits is parsed exactly as JSON.parse does.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseBoundedJson } from '../../src/api/plugins/json-body.js';
import { ApiProblem } from '../../src/api/problem.js';

const LIMITS = { maxDepth: 4, maxItems: 3, maxString: 8 };

function refusal(text: string): { code: string; field: string; message: string } {
  // Prototype keys are longer than the string limit here.
  const limits = /proto|constructor/.test(text) ? { ...LIMITS, maxString: 64 } : LIMITS;
  try {
    parseBoundedJson(text, limits);
  } catch (err) {
    assert.ok(err instanceof ApiProblem, String(err));
    const first = (err.extra.errors as Array<{ field: string; message: string }> | undefined)?.[0];
    return { code: err.code, field: first?.field ?? '', message: first?.message ?? err.message };
  }
  assert.fail(`${text} was accepted`);
}

describe('JSON body shape', () => {
  test('accepts what fits and parses it as JSON.parse does', () => {
    for (const text of [
      '{}',
      '[]',
      '1',
      '"12345678"',
      '[[[[1]]]]',
      '{"a":[1,2,3],"b":{"c":"]}[{"}}',
      '{"\\"":"\\\\\\"","k":[true,false,null]}',
      '["\\u005b\\u005b"]',
      '\ufeff[1]',
      ' { "a" : [ 1 , 2 ] } ',
    ]) {
      assert.deepEqual(parseBoundedJson(text, LIMITS), JSON.parse(text.replace(/^\ufeff/, '')), text);
    }
  });

  test('names the pointer where each limit is exceeded', () => {
    const cases: Array<[string, string, string, RegExp]> = [
      ['[[[[[1]]]]]', 'json_too_complex', '/0/0/0/0', /limit is 4 levels/],
      ['{"a/b":{"c~d":[{"e":[]}]}}', 'json_too_complex', '/a~1b/c~0d/0/e', /limit is 4 levels/],
      ['{"x":"[[[[[[","y":[[[[1]]]]}', 'json_too_complex', '/y/0/0/0', /limit is 4 levels/], // brackets in a string do not count
      ['[1,2,3,4]', 'json_too_complex', '/3', /limit is 3 items/],
      ['{"a":[1,[1,2,3,4]]}', 'json_too_complex', '/a/1/3', /limit is 3 items/],
      ['{"a":1,"b":2,"c":3,"d":4}', 'json_too_complex', '/d', /limit is 3 keys/],
      ['{"s":"123456789"}', 'json_too_complex', '/s', /string of 9 characters: the limit is 8/],
      ['{"s":"\\u0031\\n\\"4567890"}', 'json_too_complex', '/s', /string of 10 characters/], // counted unescaped
      ['{"s":"12345678","t":["\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"]}', 'json_too_complex', '/t/0', /string of 9/],
      ['{"a":{"ok":1,"123456789":1}}', 'json_too_complex', '/a', /key of 9 characters/],
      ['{"__proto__":{}}', 'invalid_request', '/__proto__', /__proto__ is not accepted/],
      ['[{"a":{"\\u005f\\u005fproto__":1}}]', 'invalid_request', '/0/a/__proto__', /__proto__ is not accepted/],
      ['{"a":{"x":1,"__proto__":{}}}', 'invalid_request', '/a/__proto__', /__proto__ is not accepted/],
      ['{"constructor":{"x":1,"prototype":{}}}', 'invalid_request', '/constructor/prototype', /prototype is not accepted/],
      ['', 'invalid_json', '', /empty/],
      ['{"a":', 'invalid_json', '', /not valid JSON/],
      ['{"a":"unterminated', 'invalid_json', '', /not valid JSON/],
    ];
    for (const [text, code, field, message] of cases) {
      const got = refusal(text);
      assert.equal(got.code, code, text);
      assert.equal(got.field, field, text);
      assert.match(got.message, message, text);
    }
  });

  test('constructor and prototype are ordinary keys elsewhere', () => {
    const text = '{"constructor":1,"prototype":{"constructor":2}}';
    assert.deepEqual(parseBoundedJson(text, { ...LIMITS, maxString: 64 }), { constructor: 1, prototype: { constructor: 2 } });
  });
});
