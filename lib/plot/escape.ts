/**
 * Escaping text for HTML and SVG: every token, label and title that a figure
 * writes into markup goes through {@link escapeHtml}.
 *
 * @module
 */

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

// XML 1.0 forbids these code points even as character references, so a byte-level
// token such as "\u0001" would make an SVG unparseable: they become U+FFFD.
// deno-lint-ignore no-control-regex
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/**
 * Escapes `& < > " '` so that `text` can sit inside HTML or XML (SVG) element
 * content and quoted attributes. Characters that XML 1.0 cannot hold at all
 * (control characters, lone surrogates) become U+FFFD, so the result is also
 * safe in an SVG document. Use it for text you pass to `Deno.jupyter.html`,
 * which does not escape what it interpolates.
 *
 * @param text Any string; other values are converted with `String()`.
 * @returns The escaped string.
 *
 * @example Escape a token that looks like markup
 * ```ts
 * import { escapeHtml } from "./escape.ts";
 * import assert from "node:assert/strict";
 * assert.equal(escapeHtml(`<script>"a" & 'b'</script>`),
 *   "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;");
 * ```
 */
export function escapeHtml(text: string): string {
  return String(text).toWellFormed().replace(XML_INVALID, "\uFFFD").replace(
    /[&<>"']/g,
    (c) => ENTITIES[c],
  );
}

/**
 * Inverse of {@link escapeHtml} for the five entities it writes. Plotly draws
 * text as pseudo-HTML, so figures store labels escaped; the SVG renderer
 * decodes them before escaping again for XML.
 */
export function _unescapeHtml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => {
    switch (e) {
      case "amp":
        return "&";
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "quot":
        return '"';
      default:
        return "'";
    }
  });
}

/**
 * JSON that can sit inside an HTML `<script>` element: `<`, `>`, `&` and the
 * JavaScript line separators are written as `\u` escapes, so a token such as
 * `</script>` cannot end the script early.
 */
export function _scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** `</script` inside inlined code would end the element early; `<\/` means the same to JavaScript. */
export function _scriptSafe(source: string): string {
  return source.replace(/<\/(script)/gi, "<\\/$1");
}
