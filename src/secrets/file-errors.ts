/**
 * Errors in the files a technician edits by hand (config.json, secrets.json), rendered
 * as `FILE: path.to.field: what is wrong`. One rule everywhere: an error message never
 * contains a value from the file (a secret could be anywhere, even in a mistyped key's
 * neighbour), only key names, positions and what was expected.
 */
import type { z } from 'zod';

export interface ConfigError {
  /** The file as the user named it. */
  readonly file: string;
  /** `links[2].ppp.mru`, `secrets[0] (client 'alice').addresses[1]`, `line 3, column 7`; '' for the whole file. */
  readonly path: string;
  /** What is wrong, in one sentence. */
  readonly message: string;
}

export function formatConfigError(error: ConfigError): string {
  return error.path === ''
    ? `${error.file}: ${error.message}`
    : `${error.file}: ${error.path}: ${error.message}`;
}

export function configError(file: string, path: string, message: string): ConfigError {
  return { file, path, message };
}

export type PathSegment = string | number;

/** `['links', 2, 'ppp', 'mru']` → `links[2].ppp.mru`. */
export function renderPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      const plain = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(s);
      if (plain) out += out === '' ? s : `.${s}`;
      else out += `[${JSON.stringify(s)}]`;
    }
  }
  return out;
}

/** Marker the `strict()` helper puts into its unknown-key message so the renderer can suggest. */
const ALLOWED_KEYS_PREFIX = 'allowed-keys:';

/** Marks a message written by us for a technician; the renderer uses it verbatim. */
const OWN_MESSAGE = '\u2063';

/** Our own message for a schema (`z.string({ error: msg('...') })`); must be value-free. */
export function msg(text: string): string {
  return OWN_MESSAGE + text;
}

export function allowedKeysMessage(keys: readonly string[]): string {
  return ALLOWED_KEYS_PREFIX + JSON.stringify(keys);
}

function describeType(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return Number.isInteger(value) ? 'a whole number' : 'a number';
    case 'boolean':
      return 'true/false';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

const EXPECTED_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  nonoptional: 'a value',
};

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg as string];
  }
  return cur;
}

/** Levenshtein distance, small inputs only (key names). */
function distance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      const cost = a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + cost);
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

export function suggestKey(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of allowed) {
    const d = distance(key, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  if (best === undefined) return undefined;
  return bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f]/g;

/** Short printable form of a key name from the file (keys are not secret, but may be garbage). */
export function printable(text: string, max = 40): string {
  const clean = text.replace(
    UNPRINTABLE,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

export interface RenderOptions {
  readonly file: string;
  /** The parsed input, to say what type was found (never which value). */
  readonly input: unknown;
  /** Renders a path; default `renderPath`. */
  readonly render?: (path: readonly PropertyKey[]) => string;
}

/**
 * Turns zod issues into ConfigErrors with messages written for a technician. Messages are
 * built from issue codes, never from zod's text, so no input value can slip through.
 */
export function renderIssues(
  issues: readonly z.core.$ZodIssue[],
  options: RenderOptions,
): ConfigError[] {
  const render = options.render ?? renderPath;
  const out: ConfigError[] = [];
  for (const issue of issues) {
    const path = issue.path;
    if (issue.message.startsWith(OWN_MESSAGE)) {
      out.push({
        file: options.file,
        path: render(path),
        message: issue.message.slice(OWN_MESSAGE.length),
      });
      continue;
    }
    switch (issue.code) {
      case 'unrecognized_keys': {
        let allowed: string[] = [];
        if (issue.message.startsWith(ALLOWED_KEYS_PREFIX)) {
          try {
            allowed = JSON.parse(issue.message.slice(ALLOWED_KEYS_PREFIX.length)) as string[];
          } catch {
            allowed = [];
          }
        }
        for (const key of issue.keys) {
          const hint = suggestKey(key, allowed);
          const tail = hint
            ? ` (did you mean "${hint}"?)`
            : allowed.length > 0
              ? ` (allowed here: ${allowed.join(', ')})`
              : '';
          out.push({
            file: options.file,
            path: render([...path, key]),
            message: `unknown key "${printable(key)}"${tail}`,
          });
        }
        break;
      }
      case 'invalid_type': {
        const found = valueAt(options.input, path);
        const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
        const message =
          found === undefined
            ? `is required (${expected})`
            : `must be ${expected}, found ${describeType(found)}`;
        out.push({ file: options.file, path: render(path), message });
        break;
      }
      case 'too_small': {
        const min = Number(issue.minimum);
        let message: string;
        if (issue.origin === 'string')
          message = min <= 1 ? 'must not be empty' : `must be at least ${min} characters`;
        else if (issue.origin === 'array')
          message = min <= 1 ? 'must list at least one entry' : `must list at least ${min} entries`;
        else message = `must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${min}`;
        out.push({ file: options.file, path: render(path), message });
        break;
      }
      case 'too_big': {
        const max = Number(issue.maximum);
        let message: string;
        if (issue.origin === 'string') message = `must be at most ${max} characters`;
        else if (issue.origin === 'array') message = `must list at most ${max} entries`;
        else message = `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${max}`;
        out.push({ file: options.file, path: render(path), message });
        break;
      }
      case 'invalid_value': {
        const values = issue.values.map((v) => JSON.stringify(v)).join(', ');
        out.push({
          file: options.file,
          path: render(path),
          message: issue.values.length === 1 ? `must be ${values}` : `must be one of ${values}`,
        });
        break;
      }
      case 'invalid_format':
      case 'custom':
      case 'invalid_union':
      case 'not_multiple_of':
      case 'invalid_key':
      case 'invalid_element':
        // Our schemas give every one of these an explicit message (see `msg`); zod's default
        // text is used only as a fallback and is value-free for these codes.
        out.push({ file: options.file, path: render(path), message: issue.message });
        break;
      default:
        out.push({ file: options.file, path: render(path), message: 'is not valid' });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// JSON syntax errors. V8's messages quote a slice of the input ("... is not valid JSON"),
// which could be a secret, so the position is found by a small scanner of our own.

export interface JsonSyntaxProblem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** Parses JSON; on a syntax error says where (line, column) and what was expected, value-free. */
export function parseJsonText(
  text: string,
): { ok: true; value: unknown } | { ok: false; problem: JsonSyntaxProblem } {
  // Editors on other systems may save a byte-order mark; JSON.parse refuses it.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch {
    return { ok: false, problem: locateJsonError(text) };
  }
}

function lineColumn(text: string, pos: number): { line: number; column: number } {
  let line = 1;
  let col = 1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else col++;
  }
  return { line, column: col };
}

const STRUCTURAL = new Set(['{', '}', '[', ']', ':', ',']);

function describeChar(c: string | undefined): string {
  if (c === undefined) return 'the end of the file';
  if (STRUCTURAL.has(c)) return `'${c}'`;
  if (c === '"') return 'a string';
  if (/\s/.test(c)) return 'white space';
  // Any other character could be part of a secret: say what kind it is, not which.
  return 'an unexpected character';
}

/** A recursive-descent JSON checker that stops at the first error. Depth-bounded. */
export function locateJsonError(text: string): JsonSyntaxProblem {
  let i = 0;
  const fail = (what: string, saySeen = true): never => {
    const at = lineColumn(text, i);
    const message = saySeen ? `${what}, found ${describeChar(text[i])}` : what;
    throw { line: at.line, column: at.column, message };
  };
  const ws = (): void => {
    while (
      i < text.length &&
      (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')
    )
      i++;
  };
  const str = (): void => {
    // at '"'
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c === 0x5c) {
        const n = text[i + 1];
        if (n === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i++;
            fail('expected four hex digits after \\u in a string');
          }
          i += 6;
        } else if (n !== undefined && '"\\/bfnrt'.includes(n)) i += 2;
        else {
          i++;
          fail('invalid escape in a string (only \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)');
        }
        continue;
      }
      if (c < 0x20)
        fail('a line break or control character inside a string (missing closing quote?)');
      i++;
    }
    fail('a string that is never closed (missing closing quote)');
  };
  const num = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '-') fail('expected a value');
    i += m![0].length;
  };
  const value = (depth: number): void => {
    if (depth > 200) fail('nesting deeper than 200 levels');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') {
          if (text[i] === '}') fail("a trailing comma before '}' (remove the last ',')", false);
          fail('expected a key in double quotes');
        }
        str();
        ws();
        if (text[i] !== ':') fail("expected ':' after a key");
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail("expected ',' or '}' after a value (missing comma?)");
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] === ']') fail("a trailing comma before ']' (remove the last ',')", false);
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail("expected ',' or ']' after a list entry (missing comma?)");
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) {
      i += 4;
      return;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return;
    }
    if (c === "'") fail('expected a value (JSON strings use double quotes, not single quotes)');
    if (c === '/') fail('expected a value (JSON has no comments)');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return num();
    fail('expected a value');
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) i = 1;
    value(0);
    ws();
    if (i < text.length) fail('expected the end of the file after the top-level value');
    // JSON.parse failed but our checker did not: be honest and vague.
    const at = lineColumn(text, 0);
    return { line: at.line, column: at.column, message: 'not valid JSON' };
  } catch (e) {
    if (e && typeof e === 'object' && 'line' in e) return e as JsonSyntaxProblem;
    return { line: 1, column: 1, message: 'not valid JSON' };
  }
}

export function jsonSyntaxError(file: string, problem: JsonSyntaxProblem): ConfigError {
  return {
    file,
    path: `line ${problem.line}, column ${problem.column}`,
    message: `invalid JSON: ${problem.message}`,
  };
}

/**
 * Renders a path into a list of named records with the record's name beside its index,
 * e.g. `links[2] (link 'hq').ppp.mru` or `secrets[0] (client 'alice').addresses[1]`.
 */
export function labelledPathRenderer(
  collection: string,
  noun: string,
  labelOf: (index: number) => string | undefined,
): (path: readonly PropertyKey[]) => string {
  return (path) => {
    if (path[0] === collection && typeof path[1] === 'number') {
      const label = labelOf(path[1]);
      const head = label
        ? `${collection}[${path[1]}] (${noun} '${label}')`
        : `${collection}[${path[1]}]`;
      const rest = renderPath(path.slice(2));
      return rest === '' ? head : rest.startsWith('[') ? head + rest : `${head}.${rest}`;
    }
    return renderPath(path);
  };
}
