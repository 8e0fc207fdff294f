/** A strict XML well-formedness check for the tests of SVG output (plot_test.ts, views_test.ts). */

/**
 * A strict XML well-formedness check (Deno has no DOMParser): one root element,
 * balanced tags, quoted and unique attributes, valid names, and text with no raw
 * `<` or `&` except the five predefined / numeric entity references.
 * Returns the number of elements.
 */
export function checkXml(xml: string): number {
  const name = /^[A-Za-z_:][\w.:-]*/;
  const entity = /^&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;
  const stack: string[] = [];
  let i = 0;
  let elements = 0;
  let rootClosed = false;
  const fail = (msg: string): never => {
    throw new Error(`XML not well-formed at ${i}: ${msg}: ${JSON.stringify(xml.slice(i, i + 60))}`);
  };
  const checkText = (text: string) => {
    for (let k = 0; k < text.length; k++) {
      if (text[k] === "<") fail("raw < in text");
      if (text[k] === "&" && !entity.test(text.slice(k))) fail("bad entity");
      const c = text.charCodeAt(k);
      if (c < 0x20 && c !== 9 && c !== 10 && c !== 13) fail("control character");
    }
  };
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (stack.length === 0 && text.trim() !== "") fail("text outside the root");
    checkText(text);
    if (lt < 0) break;
    i = lt;
    if (xml.startsWith("</", i)) {
      const m = name.exec(xml.slice(i + 2));
      if (!m) fail("bad closing tag name");
      const open = stack.pop();
      if (open !== m![0]) fail(`closing </${m![0]}> but <${open}> is open`);
      i += 2 + m![0].length;
      while (/\s/.test(xml[i])) i++;
      if (xml[i] !== ">") fail("closing tag not ended");
      i++;
      if (stack.length === 0) rootClosed = true;
      continue;
    }
    if (rootClosed) fail("second root element");
    const m = name.exec(xml.slice(i + 1));
    if (!m) fail("bad tag name");
    i += 1 + m![0].length;
    const seen = new Set<string>();
    for (;;) {
      const ws = /^\s*/.exec(xml.slice(i))![0].length;
      i += ws;
      if (xml.startsWith("/>", i)) {
        i += 2;
        elements++;
        if (stack.length === 0) rootClosed = true;
        break;
      }
      if (xml[i] === ">") {
        i++;
        elements++;
        stack.push(m![0]);
        break;
      }
      if (ws === 0) fail("attributes must be separated by whitespace");
      const a = name.exec(xml.slice(i));
      if (!a) fail("bad attribute name");
      if (seen.has(a![0])) fail(`duplicate attribute ${a![0]}`);
      seen.add(a![0]);
      i += a![0].length;
      if (xml[i] !== "=") fail("attribute without =");
      const q = xml[i + 1];
      if (q !== '"' && q !== "'") fail("unquoted attribute");
      const end = xml.indexOf(q, i + 2);
      if (end < 0) fail("unterminated attribute");
      const value = xml.slice(i + 2, end);
      if (value.includes("<")) fail("< in attribute");
      checkText(value);
      i = end + 1;
    }
  }
  if (stack.length) throw new Error(`XML not well-formed: unclosed <${stack.join("> <")}>`);
  if (!rootClosed) throw new Error("XML not well-formed: no root element");
  return elements;
}
