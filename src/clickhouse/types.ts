// The ClickHouse type grammar: a column as system.columns describes it, and its type text parsed into a
// tree so commas and parentheses inside Enum names or time-zone literals never split a type. Extraction,
// window predicates and the Iceberg mapping all read types through this one parser.
import { SchemaError } from '../core/errors.js';

/** A column as ClickHouse describes it (system.columns, or a query's result). */
export interface ColumnInfo {
  name: string;
  /** The ClickHouse type as system.columns prints it, e.g. `LowCardinality(Nullable(String))`. */
  type: string;
}

export type ClickHouseTypeArg =
  | { kind: 'type'; type: ClickHouseType }
  | { kind: 'named'; name: string; type: ClickHouseType } // Tuple(a String, …)
  | { kind: 'string'; value: string } // 'UTC'
  | { kind: 'number'; value: number } // 3
  | { kind: 'enum'; name: string; value: number }; // 'BUY' = 1

export interface ClickHouseType {
  name: string;
  args: ClickHouseTypeArg[];
}

type Token =
  | { t: 'ident'; v: string; quoted: boolean }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'punct'; v: '(' | ')' | ',' | '=' };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',' || c === '=') {
      tokens.push({ t: 'punct', v: c });
      i++;
    } else if (c === "'" || c === '`' || c === '"') {
      // ClickHouse escapes a quote inside a literal as \' or as a doubled quote.
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`unterminated ${c}…${c} literal`);
        const d = text[i];
        if (d === '\\' && i + 1 < text.length) {
          const e = text[i + 1];
          v += e === 'n' ? '\n' : e === 't' ? '\t' : e === '0' ? '\0' : e;
          i += 2;
        } else if (d === c && text[i + 1] === c) {
          v += c;
          i += 2;
        } else if (d === c) {
          i++;
          break;
        } else {
          v += d;
          i++;
        }
      }
      tokens.push(c === "'" ? { t: 'string', v } : { t: 'ident', v, quoted: true });
    } else if (/[-+0-9]/.test(c)) {
      const m = /^[-+]?\d+/.exec(text.slice(i));
      if (!m) throw new Error(`unexpected "${c}" at offset ${i}`);
      tokens.push({ t: 'number', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i))!;
      tokens.push({ t: 'ident', v: m[0], quoted: false });
      i += m[0].length;
    } else {
      throw new Error(`unexpected "${c}" at offset ${i}`);
    }
  }
  return tokens;
}

/** Parses e.g. `LowCardinality(Nullable(String))`, `Enum8('a,b' = 1)`, `Tuple(a String, b UInt8)`. Throws Error on bad syntax. */
export function parseClickHouseType(text: string): ClickHouseType {
  const tokens = tokenize(text);
  let pos = 0;
  const isPunct = (tok: Token | undefined, v: string): boolean => tok !== undefined && tok.t === 'punct' && tok.v === v;

  const parseType = (): ClickHouseType => {
    const tok = tokens[pos++];
    if (tok?.t !== 'ident' || tok.quoted) throw new Error('expected a type name');
    const type: ClickHouseType = { name: tok.v, args: [] };
    if (!isPunct(tokens[pos], '(')) return type;
    pos++;
    if (isPunct(tokens[pos], ')')) {
      pos++;
      return type;
    }
    for (;;) {
      type.args.push(parseArg());
      const sep = tokens[pos++];
      if (isPunct(sep, ')')) return type;
      if (!isPunct(sep, ',')) throw new Error('expected "," or ")"');
    }
  };

  const parseArg = (): ClickHouseTypeArg => {
    const tok = tokens[pos];
    if (!tok) throw new Error('unexpected end of type');
    if (tok.t === 'string') {
      pos++;
      if (!isPunct(tokens[pos], '=')) return { kind: 'string', value: tok.v };
      pos++;
      const n = tokens[pos++];
      if (n?.t !== 'number') throw new Error('expected a number after "="');
      return { kind: 'enum', name: tok.v, value: n.v };
    }
    if (tok.t === 'number') {
      pos++;
      return { kind: 'number', value: tok.v };
    }
    if (tok.t === 'ident') {
      // `name Type` inside Tuple: an identifier directly followed by another identifier.
      const after = tokens[pos + 1];
      if (tok.quoted || (after && after.t === 'ident')) {
        pos++;
        return { kind: 'named', name: tok.v, type: parseType() };
      }
      return { kind: 'type', type: parseType() };
    }
    throw new Error(`unexpected "${tok.v}"`);
  };

  const result = parseType();
  if (pos !== tokens.length) throw new Error('unexpected text after the type');
  return result;
}

/** A column's type, parsed; `where` names the column for later messages. A SchemaError when it cannot be parsed. */
export function parseColumnType(name: string, typeText: string, table = ''): { type: ClickHouseType; where: string } {
  const where = `${table ? `${table}: ` : ''}column "${name}" (${typeText})`;
  try {
    return { type: parseClickHouseType(typeText), where };
  } catch (err) {
    throw new SchemaError(`${where}: the type cannot be parsed (${(err as Error).message})`);
  }
}
