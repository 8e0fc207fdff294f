/** The offline HTML page both `toHtml` (figures) and the attention views' `toHtml({ page: true })` write. */

import { escapeHtml } from "./escape.ts";

const BODY_CSS =
  "body{font-family:sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}";

/**
 * A whole page: `title` as the document title and an `<h1>`, then `bodies`.
 * `css` is added to the page's style rules and `head` (lines of HTML) after
 * the style element.
 */
export function _htmlPage(
  title: string,
  bodies: string[],
  options: { css?: string; head?: string[] } = {},
): string {
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${BODY_CSS}${options.css ?? ""}</style>`,
    ...(options.head ?? []),
    "</head>",
    "<body>",
    `<h1>${escapeHtml(title)}</h1>`,
    ...bodies,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
