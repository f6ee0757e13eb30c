/**
 * Where a JSON text first goes wrong, for error messages only (the parse itself is the json
 * serializer's): a linear, allocation-free syntax walk that returns the offset of the first byte
 * that cannot continue valid JSON, or the text's length when it ends too early. Used only after a
 * parse failed, so valid bodies never pay for it. Nesting is tracked with a bit stack bounded by
 * the text's length.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const n = text.length;
  // containers: true = array, false = object
  const stack: boolean[] = [];
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const literal = (word: string): boolean => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return true;
    }
    return false;
  };
  const str = (): boolean => {
    i++; // opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return false;
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return false;
      } else i++;
    }
    return false;
  };
  const num = (): boolean => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m === null) return false;
    i += m[0].length;
    return true;
  };
  // value: returns false at the offending offset `i`
  const value = (): boolean => {
    ws();
    if (i >= n) return false;
    const c = text[i];
    if (c === '"') return str();
    if (c === '{' || c === '[') {
      stack.push(c === '[');
      i++;
      ws();
      if (text[i] === (c === '[' ? ']' : '}')) {
        stack.pop();
        i++;
        return true;
      }
      return members(c === '[');
    }
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    return num();
  };
  const members = (isArray: boolean): boolean => {
    for (;;) {
      if (!isArray) {
        ws();
        if (text[i] !== '"' || !str()) return false;
        ws();
        if (text[i] !== ':') return false;
        i++;
      }
      if (!value()) return false;
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === (isArray ? ']' : '}')) {
        i++;
        stack.pop();
        return true;
      }
      return false;
    }
  };
  if (!value()) return Math.min(i, n);
  ws();
  return i < n ? i : n;
}

/** `line L, column C (offset O)` of an offset, 1-based, for a reader. */
export function describeOffset(text: string, offset: number): string {
  let line = 1;
  let col = 1;
  for (let k = 0; k < offset && k < text.length; k++) {
    if (text.charCodeAt(k) === 0x0a) {
      line++;
      col = 1;
    } else col++;
  }
  return `line ${line}, column ${col} (offset ${offset})`;
}
