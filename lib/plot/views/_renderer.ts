/**
 * Private: the browser renderer of the attention views, plain JavaScript
 * (ES2017, no library, no network, no `eval`) that draws SVG with the DOM.
 * {@link AttentionView} inlines it once per notebook session or page; a
 * second copy returns at once (it checks `globalThis.AttentionLabViews.version`).
 *
 * ## Browser API
 *
 * ```js ignore
 * const view = AttentionLabViews.render(element, spec); // draws spec into element (replacing its content)
 * view.update(nextSpec);  // same kind of view, new data (e.g. as the user types); keeps the selection
 * view.state;             // {role, layer, heads} | {role, layer, head, query} | {index}
 * view.redraw();          // after changing view.state by hand
 * view.focus("query", 3); // head view: highlight the lines of query 3 (null clears)
 * view.svgString();       // the drawing as a standalone SVG document
 * view.pngBlob(2);        // Promise<Blob> of a PNG at 2x
 * view.destroy();
 * AttentionLabViews.neuronColumns(headSpec, query); // the neuron view's numbers
 * ```
 *
 * `spec` is the JSON of a view: `view.spec` in TypeScript, typed and
 * documented in view_spec.ts (`HeadViewSpec` for `view: "head"` and
 * `"model"`, `NeuronViewSpec`, `ScrubberSpec`). All text is set with
 * `textContent` or `setAttribute`, never parsed as markup.
 *
 * ## Stable hooks for tests (data attributes)
 *
 * - the element passed to `render` gets `data-al-rendered="true"`; inside it
 *   `div[data-al-view="head" | "model" | "neuron" | "scrubber"]`;
 * - the drawing: `svg[data-al="canvas"]` (the model view's enlarged head: `svg[data-al="detail-canvas"]`);
 *   in the head view the tokens and focus lines sit in `svg[data-al="overlay"]`, stacked on
 *   the canvas (which keeps title, legend and lines), so that hover repaints only the overlay;
 *   "Save SVG" merges the two;
 * - controls: `select[data-al="role" | "layer" | "head" | "query"]`,
 *   `button[data-al="save-svg"]`, `button[data-al="save-png"]`;
 * - head view: `g[data-al="head-toggle"][data-head=h][aria-pressed="true" | "false"]`
 *   (click toggles, double-click keeps only that head);
 *   `g[data-al="token"][data-side="query" | "key"][data-index=i]` (hover focuses;
 *   the hovered one and the tokens it links get `data-focused="true"` / bold text);
 *   `path[data-al="lines"][data-head=h][data-bucket=b]` (all lines of a head whose
 *   weight is in bucket b of 8, opacity b/8); while a token is focused the
 *   `g[data-al="line-layer"]` is dimmed (opacity 0.12) and
 *   `line[data-al="focus-line"][data-head][data-query][data-key][data-weight]` are drawn;
 * - model view: `g[data-al="thumb"][data-layer=l][data-head=h]` (click opens
 *   `div[data-al="detail"][data-layer][data-head]` with `button[data-al="close"]`);
 * - neuron view: `g[data-al="neuron-row"][data-key=j]` holding
 *   `[data-al="cell"][data-col="k" | "qk" | "dot" | "scaled" | "masked" | "softmax"]`
 *   (the number cells carry `data-value`); the query vector `g[data-al="query-vector"]`;
 * - scrubber: `input[data-al="slider"]`, `button[data-al="play"]`,
 *   `[data-al="step-label"]`, `rect[data-al="cell"][data-row][data-col][data-value]`,
 *   the root's `data-al-index`; `path[data-al="loss-curve"]`, `circle[data-al="loss-marker"]`;
 * - a whitespace-only token keeps its exact text; a `path[data-al-mark]` bracket under it shows it.
 *
 * ## Long inputs (512 tokens and more)
 *
 * The spec keeps, per query, the `topK` largest weights (16 beyond 64 keys,
 * each at least `minWeight` = 0.001), so its size grows as `Tq · topK`, not
 * `Tq · Tk`. The head view draws one `<path>` per head and opacity bucket (at
 * most 8 per head), so the DOM holds a few dozen elements however many lines
 * there are; a hovered token's lines are drawn on demand. Thumbnails draw the
 * 4 strongest lines (weight ≥ 0.05) per query, as does the static SVG of a
 * head view beyond 64 tokens (weight ≥ 0.02; beyond 128 tokens that image is
 * squeezed to about 1536 px tall, labelling every few tokens). The neuron view lists at most
 * `maxKeys` keys (those of largest weight); the scrubber's maps are block
 * means of at most 96 × 96 cells.
 *
 * @module
 */

/** The renderer's source, to inline in a `<script>` (it holds no `</script`). */
export const _RENDERER_JS: string = String.raw`(function (g) {
  "use strict";
  var VERSION = 1;
  if (g.AttentionLabViews && g.AttentionLabViews.version >= VERSION) return;

  var NS = "http://www.w3.org/2000/svg";
  var BUCKETS = 8;
  var FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  var MONO = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace";

  // ------------------------------------------------------------ small DOM helpers
  // Text always goes through textContent or setAttribute: no label is ever parsed as markup.
  function svg(parent, tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function html(parent, tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  // Whitespace-only tokens would draw nothing: show them as visible marks.
  function visible(s) {
    s = String(s);
    if (!/^\s+$/.test(s)) return s;
    return s.replace(/\s/g, function (c) {
      return c === " " ? "\u2423" : c === "\n" ? "\u21b5" : c === "\t" ? "\u21e5" : "\u00b7";
    });
  }
  // "encoder attention", but a role already called "attention" is not "attention attention".
  function roleTitle(name) {
    return /attention$/i.test(name) ? name : name + " attention";
  }
  function clip(s, n) {
    s = String(s);
    return s.length > n ? s.slice(0, n - 1) + "\u2026" : s;
  }
  // For HTML text (selector options, captions): whitespace tokens as visible marks.
  function clipShown(s, n) {
    return clip(visible(s), n);
  }
  /**
   * An SVG text element holds a token's exact text; a whitespace-only token would draw nothing,
   * so a small bracket (like U+2423) is drawn under it (data-al-mark), the text left as it is.
   */
  function tokenLabel(parent, attrs, text) {
    var t = svg(parent, "text", attrs, text);
    if (/^\s+$/.test(String(text))) {
      var size = Number(attrs["font-size"]) || 11, w = size * 0.6 * String(text).length;
      var x = Number(attrs.x), y = Number(attrs.y);
      var a = attrs["text-anchor"] || "start";
      var x0 = a === "end" ? x - w : a === "middle" ? x - w / 2 : x;
      svg(parent, "path", {
        "data-al-mark": "", d: "M" + x0.toFixed(1) + " " + (y + 1).toFixed(1) + "v3h" + w.toFixed(1) + "v-3",
        fill: "none", stroke: "#888", "stroke-width": 1, transform: attrs.transform,
      });
    }
    return t;
  }
  // Width of a label in pixels, estimated (0.62 em a character) so the layout needs no measuring.
  function textWidth(s, size) {
    return String(s).length * size * 0.62;
  }
  function maxWidth(labels, size, cap) {
    var w = 0;
    for (var i = 0; i < labels.length; i++) w = Math.max(w, textWidth(clip(labels[i], cap), size));
    return Math.ceil(w);
  }
  function fmt(v, digits) {
    if (v === -Infinity) return "\u2212\u221e";
    if (v === Infinity) return "\u221e";
    if (v !== v) return "NaN";
    var s = v.toFixed(digits === undefined ? 3 : digits);
    return s.charAt(0) === "-" ? "\u2212" + s.slice(1) : s;
  }

  // ------------------------------------------------------------ colours
  function hexRgb(h) {
    var n = parseInt(h.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  // As plotly.js and the library's colorAt(): linear in RGB between stops, t clamped to [0, 1].
  function colorAt(scale, t) {
    var x = t !== t ? 0 : Math.min(1, Math.max(0, t));
    var i = 1;
    while (i < scale.length - 1 && scale[i][0] < x) i++;
    var p0 = scale[i - 1][0], p1 = scale[i][0];
    var a = hexRgb(scale[i - 1][1]), b = hexRgb(scale[i][1]);
    var f = p1 > p0 ? Math.min(1, Math.max(0, (x - p0) / (p1 - p0))) : 1;
    var out = "#";
    for (var c = 0; c < 3; c++) {
      var v = Math.round(Math.min(255, Math.max(0, a[c] + (b[c] - a[c]) * f)));
      out += (v < 16 ? "0" : "") + v.toString(16);
    }
    return out;
  }

  // ------------------------------------------------------------ data
  // Sparse rows [k0, w0, k1, w1, ...] (weights in thousandths) -> per query {k: [...], w: [...]}.
  function decodeRows(map) {
    var out = [];
    for (var i = 0; i < map.rows.length; i++) {
      var r = map.rows[i], k = [], w = [];
      for (var j = 0; j + 1 < r.length; j += 2) {
        k.push(r[j]);
        w.push(r[j + 1] / 1000);
      }
      out.push({ k: k, w: w });
    }
    return out;
  }
  // The same pairs listed per key: [{q: [...], w: [...]}] of length tk.
  function byKey(rows, tk) {
    var out = [];
    for (var j = 0; j < tk; j++) out.push({ q: [], w: [] });
    for (var i = 0; i < rows.length; i++) {
      for (var n = 0; n < rows[i].k.length; n++) {
        var e = out[rows[i].k[n]];
        if (e) {
          e.q.push(i);
          e.w.push(rows[i].w[n]);
        }
      }
    }
    return out;
  }
  function bucketOf(w) {
    return Math.max(1, Math.min(BUCKETS, Math.ceil(w * BUCKETS)));
  }

  /**
   * The neuron view's columns for one query, from a head's spec: the same float64 loops,
   * in the same order, as the library's _neuronColumns(), so both show identical numbers.
   */
  function neuronColumns(head, query) {
    var q = head.query[query].map(Math.fround);
    var keys = head.key.map(function (r) { return r.map(Math.fround); });
    var scoreRow = head.scores[query].map(Math.fround);
    var allowed = head.allowed[query];
    var products = [], dot = [], masked = [], softmax = [];
    var m = -Infinity, any = false;
    for (var j = 0; j < keys.length; j++) {
      var p = [], s = 0;
      for (var d = 0; d < q.length; d++) {
        p.push(q[d] * keys[j][d]);
        s += q[d] * keys[j][d];
      }
      products.push(p);
      dot.push(s);
      var ok = allowed.charAt(j) === "1";
      masked.push(ok ? scoreRow[j] : -Infinity);
      if (ok) {
        any = true;
        m = Math.max(m, scoreRow[j]);
      }
    }
    var sum = 0, e = [];
    for (j = 0; j < keys.length; j++) {
      var v = allowed.charAt(j) === "1" ? Math.exp(masked[j] - m) : 0;
      e.push(v);
      sum += v;
    }
    for (j = 0; j < keys.length; j++) softmax.push(any ? e[j] / sum : 0);
    return {
      query: q, keys: keys, products: products, dot: dot, scaled: scoreRow, masked: masked,
      softmax: softmax,
    };
  }

  // ------------------------------------------------------------ saving
  function serialize(svgNode) {
    var clone = svgNode.cloneNode(true);
    var over = svgNode.__alOver;
    if (over) for (var c = over.firstChild; c; c = c.nextSibling) clone.appendChild(c.cloneNode(true));
    clone.removeAttribute("style");
    clone.setAttribute("xmlns", NS);
    clone.setAttribute("version", "1.1");
    var hits = clone.querySelectorAll("[data-al-hit]");
    for (var i = 0; i < hits.length; i++) hits[i].parentNode.removeChild(hits[i]);
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(clone);
  }
  function pngBlob(svgNode, scale) {
    var text = serialize(svgNode);
    var w = Number(svgNode.getAttribute("width")), h = Number(svgNode.getAttribute("height"));
    var k = scale || 2;
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
      var img = new Image();
      img.onload = function () {
        var c = document.createElement("canvas");
        c.width = Math.ceil(w * k);
        c.height = Math.ceil(h * k);
        var ctx = c.getContext("2d");
        ctx.fillStyle = "#ffffff";
        ctx.fillRect(0, 0, c.width, c.height);
        ctx.drawImage(img, 0, 0, c.width, c.height);
        URL.revokeObjectURL(url);
        c.toBlob(function (b) { b ? resolve(b) : reject(new Error("PNG encoding failed")); }, "image/png");
      };
      img.onerror = function () {
        URL.revokeObjectURL(url);
        reject(new Error("the SVG could not be drawn"));
      };
      img.src = url;
    });
  }
  function download(blob, name) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () {
      URL.revokeObjectURL(a.href);
      a.remove();
    }, 1000);
  }
  function fileName(spec, ext) {
    var base = String(spec.title || "attention-" + spec.view).toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
    return (base || "attention-view") + "." + ext;
  }

  // ------------------------------------------------------------ shared chrome
  var CSS = ".al-root{font-family:" + FONT + ";font-size:13px;color:#222;margin:4px 0}" +
    ".al-bar{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:0 0 6px}" +
    ".al-bar label{display:flex;gap:4px;align-items:center}" +
    ".al-bar button,.al-bar select{font:inherit;font-size:12px;padding:1px 6px}" +
    ".al-title{font-weight:600;margin-right:8px}" +
    ".al-scroll{max-height:640px;overflow:auto;border:1px solid #eee;display:inline-block;max-width:100%}" +
    ".al-note{color:#666;font-size:12px;margin:4px 0}" +
    "[data-al=token],[data-al=head-toggle],[data-al=thumb]{cursor:pointer}";
  function ensureCss() {
    if (document.getElementById("attention-lab-views-css")) return;
    var s = html(document.head || document.documentElement, "style", { id: "attention-lab-views-css" });
    s.textContent = CSS;
  }
  function select(bar, kind, label, options, value, onChange) {
    var wrap = html(bar, "label", {}, label + " ");
    var s = html(wrap, "select", { "data-al": kind });
    options.forEach(function (o, i) {
      var opt = html(s, "option", { value: i }, o);
      if (i === value) opt.selected = true;
    });
    s.addEventListener("change", function () { onChange(Number(s.value)); });
    return s;
  }
  function saveButtons(bar, handle) {
    var b1 = html(bar, "button", { type: "button", "data-al": "save-svg", title: "Download this view as SVG" }, "Save SVG");
    var b2 = html(bar, "button", { type: "button", "data-al": "save-png", title: "Download this view as PNG" }, "Save PNG");
    b1.addEventListener("click", function () {
      download(new Blob([handle.svgString()], { type: "image/svg+xml" }), fileName(handle.spec, "svg"));
    });
    b2.addEventListener("click", function () {
      handle.pngBlob().then(function (b) { download(b, fileName(handle.spec, "png")); });
    });
  }

  // ------------------------------------------------------------ head view drawing
  /**
   * Draws one head-view panel into parent (an SVG group) and returns its size and
   * a focus(side, index) function. heads: the head indices to draw.
   */
  function headPanel(parent, role, layerMaps, heads, colors, o) {
    var tq = role.queryLabels.length, tk = role.keyLabels.length;
    var n = Math.max(tq, tk);
    var rowH = o.rowH || (n > 64 ? 12 : 20);
    var size = o.fontSize || (n > 64 ? 10 : 12);
    var cap = 18;
    var lw = maxWidth(role.queryLabels, size, cap) + 8;
    var rw = maxWidth(role.keyLabels, size, cap) + 8;
    var gap = o.gap || 180;
    var x1 = lw, x2 = lw + gap;
    var height = n * rowH + 8;
    var yq = function (i) { return 4 + (i + 0.5) * rowH; };
    var rows = heads.map(function (h) { return decodeRows(layerMaps[h]); });
    var cols = null;
    // Thousands of segments: skip anti-aliasing, which costs more than the segments themselves.
    var lines = svg(o.under || parent, "g", { "data-al": "line-layer", "shape-rendering": n > 64 ? "optimizeSpeed" : undefined });
    heads.forEach(function (h, n) {
      var d = [];
      for (var b = 0; b <= BUCKETS; b++) d.push([]);
      var r = rows[n];
      for (var i = 0; i < r.length; i++) {
        for (var m = 0; m < r[i].k.length; m++) {
          d[bucketOf(r[i].w[m])].push("M" + x1 + " " + yq(i).toFixed(1) + "L" + x2 + " " + yq(r[i].k[m]).toFixed(1));
        }
      }
      for (b = 1; b <= BUCKETS; b++) {
        if (!d[b].length) continue;
        svg(lines, "path", {
          "data-al": "lines", "data-head": h, "data-bucket": b, d: d[b].join(""), fill: "none",
          stroke: colors[h], "stroke-width": 2, "stroke-opacity": (b / BUCKETS).toFixed(3),
          "stroke-linecap": "round",
        });
      }
    });
    var focus = svg(parent, "g", { "data-al": "focus-layer" });
    var tokens = [];
    function column(labels, side, x, anchor) {
      var list = [];
      for (var i = 0; i < labels.length; i++) {
        var t = svg(parent, "g", { "data-al": "token", "data-side": side, "data-index": i, "pointer-events": "all" });
        svg(t, "rect", {
          "data-al-hit": "", x: anchor === "end" ? x - lw + 2 : x, y: yq(i) - rowH / 2,
          width: anchor === "end" ? lw - 2 : rw - 2, height: rowH, fill: "transparent",
        });
        var txt = tokenLabel(t, {
          x: anchor === "end" ? x - 6 : x + 6, y: yq(i), "text-anchor": anchor,
          "dominant-baseline": "central", "font-size": size, "font-family": MONO, fill: "#222",
        }, clip(labels[i], cap));
        t.__alText = txt;
        if (String(labels[i]).length > cap) svg(txt, "title", {}, String(labels[i]));
        list.push(t);
      }
      return list;
    }
    tokens.query = column(role.queryLabels, "query", x1, "end");
    tokens.key = column(role.keyLabels, "key", x2, "start");
    // Only the tokens lit by the last focus are reset, and the line layer's opacity is set
    // only when it changes: a focus costs the hovered token's lines, not the whole drawing.
    var lit = [], dimmed = false;
    function light(t) {
      t.__alText.setAttribute("font-weight", "bold");
      lit.push(t);
    }
    function setFocus(side, index) {
      while (focus.firstChild) focus.removeChild(focus.firstChild);
      lit.forEach(function (t) { t.removeAttribute("data-focused"); t.__alText.setAttribute("font-weight", "normal"); });
      lit = [];
      if (side === null) {
        if (dimmed) lines.setAttribute("opacity", "1");
        dimmed = false;
        return;
      }
      if (!dimmed) lines.setAttribute("opacity", "0.12");
      dimmed = true;
      var tok = tokens[side][index];
      if (tok) {
        tok.setAttribute("data-focused", "true");
        light(tok);
      }
      heads.forEach(function (h, n) {
        var pairs;
        if (side === "query") {
          pairs = rows[n][index] ? rows[n][index].k.map(function (k, m) { return [index, k, rows[n][index].w[m]]; }) : [];
        } else {
          if (!cols) cols = rows.map(function (r) { return byKey(r, tk); });
          var c = cols[n][index];
          pairs = c ? c.q.map(function (q, m) { return [q, index, c.w[m]]; }) : [];
        }
        pairs.forEach(function (p) {
          svg(focus, "line", {
            "data-al": "focus-line", "data-head": h, "data-query": p[0], "data-key": p[1],
            "data-weight": p[2].toFixed(3), x1: x1, y1: yq(p[0]).toFixed(1), x2: x2, y2: yq(p[1]).toFixed(1),
            stroke: colors[h], "stroke-width": 2.5, "stroke-opacity": Math.max(0.15, p[2]).toFixed(3),
            "stroke-linecap": "round",
          });
          var other = side === "query" ? tokens.key[p[1]] : tokens.query[p[0]];
          if (other) light(other);
        });
      });
    }
    if (o.interactive !== false) {
      ["query", "key"].forEach(function (s) {
        tokens[s].forEach(function (t, i) {
          t.addEventListener("mouseenter", function () { setFocus(s, i); });
          t.addEventListener("mouseleave", function (ev) {
            // Sliding onto the next token: its mouseenter refocuses; clearing first would
            // flip the line layer's opacity twice and repaint every line for nothing.
            var to = ev.relatedTarget;
            if (to && to.closest && to.closest('[data-al="token"]') && parent.contains(to)) return;
            setFocus(null);
          });
        });
      });
    }
    return { width: x2 + rw, height: height, focus: setFocus };
  }

  function headLegend(parent, heads, selected, colors, x, y, onClick, onDbl) {
    var gl = svg(parent, "g", { "data-al": "head-legend" });
    svg(gl, "text", { x: x, y: y + 9, "font-size": 12, fill: "#444" }, "heads");
    var x0 = x + 42;
    for (var h = 0; h < heads; h++) {
      var on = selected.indexOf(h) >= 0;
      var t = svg(gl, "g", { "data-al": "head-toggle", "data-head": h, "aria-pressed": on ? "true" : "false", role: "button" });
      svg(t, "rect", {
        x: x0 + h * 22, y: y, width: 16, height: 16, rx: 3, fill: on ? colors[h] : "#ffffff",
        stroke: colors[h], "stroke-width": 2,
      });
      svg(t, "title", {}, "head " + h + ": click to toggle, double-click to show only this head");
      if (onClick) {
        (function (hh) {
          t.addEventListener("click", function () { onClick(hh); });
          t.addEventListener("dblclick", function (ev) { ev.preventDefault(); onDbl(hh); });
        })(h);
      }
    }
    return x0 + heads * 22;
  }

  function titleText(parent, text, x, y) {
    if (!text) return;
    svg(parent, "text", { x: x, y: y, "font-size": 14, "font-weight": 600, fill: "#222", "data-al-fit": "" }, text);
  }
  /**
   * Two stacked SVGs of one size: the drawing (attrs, e.g. data-al="canvas": title, legend and
   * the lines, on its own compositing layer) and over it an overlay (data-al="overlay") with
   * the tokens and the focus lines, so that hovering repaints only the overlay, never the
   * thousands of line segments. Saving merges the two (serialize()).
   */
  function layered(container, attrs) {
    var box = html(container, "div", { style: "position:relative;display:inline-block;vertical-align:top" });
    var bg = svg(box, "svg", attrs);
    bg.style.willChange = "transform";
    bg.style.display = "block";
    var fg = svg(box, "svg", {
      "data-al": "overlay", "font-family": FONT,
      style: "position:absolute;left:0;top:0;pointer-events:none",
    });
    bg.__alOver = fg;
    return {
      fg: fg, bg: bg,
      size: function (w, h) {
        [fg, bg].forEach(function (e) {
          e.setAttribute("width", w);
          e.setAttribute("height", h);
          e.setAttribute("viewBox", "0 0 " + w + " " + h);
        });
      },
    };
  }

  // Widens an SVG (width, viewBox) so that its title and captions (data-al-fit) fit.
  function fitText(s) {
    if (!s) return;
    var w = Number(s.getAttribute("width")), h = Number(s.getAttribute("height"));
    var need = 0, texts = s.querySelectorAll("[data-al-fit]");
    for (var i = 0; i < texts.length; i++) {
      var t = texts[i];
      need = Math.max(need, Number(t.getAttribute("x")) + 8 + textWidth(t.textContent, Number(t.getAttribute("font-size"))));
    }
    if (need > w) {
      [s, s.__alOver].forEach(function (e) {
        if (!e) return;
        e.setAttribute("width", Math.ceil(need));
        e.setAttribute("viewBox", "0 0 " + Math.ceil(need) + " " + h);
      });
    }
  }

  // ------------------------------------------------------------ head view
  function headView(root, spec, state, handle) {
    var bar = html(root, "div", { class: "al-bar" });
    var role = spec.roles[state.role];
    if (spec.roles.length > 1) {
      select(bar, "role", "attention", spec.roles.map(function (r) { return r.name; }), state.role, function (v) {
        state.role = v;
        state.layer = Math.min(state.layer, spec.roles[v].layers.length - 1);
        handle.redraw();
      });
    }
    select(bar, "layer", "layer", role.layers.map(function (_, i) { return String(i); }), state.layer, function (v) {
      state.layer = v;
      handle.redraw();
    });
    saveButtons(bar, handle);
    var heads = role.layers[state.layer].length;
    var shown = state.heads.filter(function (h) { return h < heads; });
    var scroll = html(root, "div", { class: "al-scroll" });
    var layers = layered(scroll, { "data-al": "canvas", "font-family": FONT });
    var s = layers.bg;
    var top = spec.title ? 24 : 4;
    titleText(s, spec.title, 8, 16);
    svg(s, "text", { x: 8, y: top + 12, "font-size": 12, fill: "#444", "data-al-fit": "" },
      roleTitle(role.name) + ", layer " + state.layer + (role.layers.length > 1 ? " of " + role.layers.length : ""));
    var legendEnd = headLegend(s, heads, shown, spec.headColors, 8, top + 22, function (h) {
      var i = state.heads.indexOf(h);
      if (i >= 0) state.heads.splice(i, 1);
      else state.heads.push(h);
      state.heads.sort(function (a, b) { return a - b; });
      handle.redraw();
    }, function (h) {
      state.heads = [h];
      handle.redraw();
    });
    var shift = "translate(8," + (top + 48) + ")";
    var under = svg(s, "g", { transform: shift });
    var g0 = svg(layers.fg, "g", { transform: shift });
    var p = headPanel(g0, role, role.layers[state.layer], shown, spec.headColors, { under: under });
    layers.size(Math.max(p.width + 16, legendEnd + 8, 260), p.height + top + 52);
    handle.svgNode = s;
    handle.focus = p.focus;
  }

  // ------------------------------------------------------------ model view
  function thumbPaths(parent, map, x, y, w, h, tq, tk, color) {
    var rows = decodeRows(map);
    var d = [];
    for (var b = 0; b <= BUCKETS; b++) d.push([]);
    var dyq = h / Math.max(tq, 1), dyk = h / Math.max(tk, 1);
    for (var i = 0; i < rows.length; i++) {
      // Thumbnails draw each query's 4 strongest lines of weight >= 0.05: finer ones are invisible there.
      var order = rows[i].w.map(function (v, m) { return m; }).sort(function (a, c) { return rows[i].w[c] - rows[i].w[a]; }).slice(0, 4);
      for (var n = 0; n < order.length; n++) {
        var m = order[n], wt = rows[i].w[m];
        if (wt < 0.05) continue;
        d[bucketOf(wt)].push("M" + x + " " + (y + (i + 0.5) * dyq).toFixed(1) + "L" + (x + w) + " " + (y + (rows[i].k[m] + 0.5) * dyk).toFixed(1));
      }
    }
    for (b = 1; b <= BUCKETS; b++) {
      if (!d[b].length) continue;
      svg(parent, "path", {
        "data-al": "lines", "data-bucket": b, d: d[b].join(""), fill: "none", stroke: color,
        "stroke-width": 1.2, "stroke-opacity": (b / BUCKETS).toFixed(3),
      });
    }
  }

  function modelView(root, spec, state, handle) {
    var bar = html(root, "div", { class: "al-bar" });
    var role = spec.roles[state.role];
    if (spec.roles.length > 1) {
      select(bar, "role", "attention", spec.roles.map(function (r) { return r.name; }), state.role, function (v) {
        state.role = v;
        state.detail = null;
        handle.redraw();
      });
    }
    saveButtons(bar, handle);
    var L = role.layers.length, H = role.layers[0].length;
    var tq = role.queryLabels.length, tk = role.keyLabels.length;
    var tw = 72, th = Math.max(60, Math.min(140, 4 * Math.max(tq, tk))), pad = 14;
    var top = spec.title ? 24 : 4;
    var left = 60, head = 34;
    var W = left + H * (tw + pad) + 8, Hh = top + head + L * (th + pad) + 8;
    var scroll = html(root, "div", { class: "al-scroll" });
    var s = svg(scroll, "svg", { width: W, height: Hh, viewBox: "0 0 " + W + " " + Hh, "data-al": "canvas", "font-family": FONT });
    titleText(s, spec.title, 8, 16);
    svg(s, "text", { x: 8, y: top + 12, "font-size": 12, fill: "#444", "data-al-fit": "" }, roleTitle(role.name) + ": layers \u00d7 heads (click one to enlarge)");
    for (var h = 0; h < H; h++) {
      svg(s, "text", { x: left + h * (tw + pad) + tw / 2, y: top + head - 6, "text-anchor": "middle", "font-size": 11, fill: spec.headColors[h] }, "head " + h);
    }
    for (var l = 0; l < L; l++) {
      var y = top + head + l * (th + pad);
      svg(s, "text", { x: left - 8, y: y + th / 2, "text-anchor": "end", "dominant-baseline": "central", "font-size": 11, fill: "#444" }, "layer " + l);
      for (h = 0; h < H; h++) {
        var x = left + h * (tw + pad);
        var t = svg(s, "g", { "data-al": "thumb", "data-layer": l, "data-head": h, role: "button" });
        var sel = state.detail && state.detail[0] === l && state.detail[1] === h;
        svg(t, "rect", { x: x - 3, y: y - 3, width: tw + 6, height: th + 6, fill: "#fff", stroke: sel ? "#222" : "#ddd", "stroke-width": sel ? 2 : 1 });
        svg(t, "title", {}, "layer " + l + ", head " + h);
        thumbPaths(t, role.layers[l][h], x, y, tw, th, tq, tk, spec.headColors[h]);
        (function (ll, hh) {
          t.addEventListener("click", function () {
            state.detail = [ll, hh];
            handle.redraw();
          });
        })(l, h);
      }
    }
    handle.svgNode = s;
    if (state.detail) {
      var box = html(root, "div", { "data-al": "detail", "data-layer": state.detail[0], "data-head": state.detail[1] });
      var dbar = html(box, "div", { class: "al-bar" });
      html(dbar, "span", { class: "al-title" }, roleTitle(role.name) + ", layer " + state.detail[0] + ", head " + state.detail[1]);
      var close = html(dbar, "button", { type: "button", "data-al": "close" }, "Close");
      close.addEventListener("click", function () {
        state.detail = null;
        handle.redraw();
      });
      var sc = html(box, "div", { class: "al-scroll" });
      // One head's lines: few enough to share one SVG with the tokens.
      var ds = svg(sc, "svg", { "data-al": "detail-canvas", "font-family": FONT });
      var g0 = svg(ds, "g", { transform: "translate(8,8)" });
      var p = headPanel(g0, role, role.layers[state.detail[0]], [state.detail[1]], spec.headColors, { gap: 240 });
      ds.setAttribute("width", p.width + 16);
      ds.setAttribute("height", p.height + 16);
      ds.setAttribute("viewBox", "0 0 " + (p.width + 16) + " " + (p.height + 16));
      handle.focus = p.focus;
    }
  }

  // ------------------------------------------------------------ neuron view
  function neuronView(root, spec, state, handle) {
    var bar = html(root, "div", { class: "al-bar" });
    var role = spec.roles[state.role];
    var layers = role.layers;
    if (spec.roles.length > 1) {
      select(bar, "role", "attention", spec.roles.map(function (r) { return r.name; }), state.role, function (v) {
        state.role = v;
        var r = spec.roles[v];
        state.layer = firstPresent(r.layers, Math.min(state.layer, r.layers.length - 1));
        state.query = Math.min(state.query, r.queryLabels.length - 1);
        handle.redraw();
      });
    }
    select(bar, "layer", "layer", layers.map(function (l, i) { return l.some(Boolean) ? String(i) : i + " (not traced)"; }), state.layer, function (v) {
      state.layer = v;
      handle.redraw();
    });
    var heads = layers[state.layer] || [];
    select(bar, "head", "head", heads.map(function (h, i) { return h ? String(i) : i + " (left out)"; }), state.head, function (v) {
      state.head = v;
      handle.redraw();
    });
    select(bar, "query", "query", role.queryLabels.map(function (t, i) { return i + ": " + clipShown(t, 16); }), state.query, function (v) {
      state.query = v;
      handle.redraw();
    });
    saveButtons(bar, handle);
    var hs = heads[state.head];
    var scroll = html(root, "div", { class: "al-scroll" });
    var s = svg(scroll, "svg", { "data-al": "canvas", "font-family": FONT });
    handle.svgNode = s;
    if (!hs) {
      s.setAttribute("width", 360);
      s.setAttribute("height", 40);
      svg(s, "text", { x: 8, y: 24, "font-size": 13, fill: "#a00" }, "this layer or head was left out of the view");
      return;
    }
    drawNeuron(s, spec, role, hs, state);
  }
  function firstPresent(layers, l) {
    return layers[l] && layers[l].some(Boolean) ? l : Math.max(0, layers.findIndex(function (x) { return x && x.some(Boolean); }));
  }

  function drawNeuron(s, spec, role, hs, state) {
    var c = neuronColumns(hs, state.query);
    var dh = c.query.length, tk = c.keys.length;
    var order = [];
    for (var j = 0; j < tk; j++) order.push(j);
    var note = "";
    if (tk > spec.maxKeys) {
      order.sort(function (a, b) { return c.softmax[b] - c.softmax[a] || a - b; });
      order = order.slice(0, spec.maxKeys).sort(function (a, b) { return a - b; });
      note = "the " + spec.maxKeys + " keys of largest weight, of " + tk;
    }
    var cw = Math.max(3, Math.min(12, Math.floor(240 / Math.max(dh, 1))));
    var rowH = 16, size = 11, cap = 14;
    var top = spec.title ? 24 : 4;
    titleText(s, spec.title, 8, 16);
    svg(s, "text", { x: 8, y: top + 12, "font-size": 12, fill: "#444", "data-al-fit": "" },
      roleTitle(role.name) + ", layer " + state.layer + ", head " + state.head + ", query " + state.query +
      " \u201c" + clipShown(role.queryLabels[state.query], 24) + "\u201d" + (note ? " \u2014 " + note : ""));
    var lw = maxWidth(role.keyLabels, size, cap) + 10;
    var x = 8 + lw, y0 = top + 56;
    var vecW = dh * cw;
    var colX = { k: x, qk: x + vecW + 16 };
    colX.dot = colX.qk + vecW + 16;
    colX.scaled = colX.dot + 62;
    colX.masked = colX.scaled + 62;
    colX.softmax = colX.masked + 62;
    var width = colX.softmax + 130;
    var heads = [["k", "k"], ["qk", "q \u2218 k"], ["dot", "q \u00b7 k"], ["scaled", role.bias ? "/\u221ad + bias" : "q\u00b7k/\u221ad"], ["masked", "masked"], ["softmax", "softmax"]];
    heads.forEach(function (hd) {
      svg(s, "text", { x: colX[hd[0]], y: y0 - 22, "font-size": 11, "font-weight": 600, fill: "#333" }, hd[1]);
    });
    var maxAbs = function (rows) {
      var m = 0;
      for (var a = 0; a < rows.length; a++) for (var b = 0; b < rows[a].length; b++) m = Math.max(m, Math.abs(rows[a][b]));
      return m || 1;
    };
    var kMax = Math.max(maxAbs(order.map(function (j) { return c.keys[j]; })), maxAbs([c.query]));
    var pMax = maxAbs(order.map(function (j) { return c.products[j]; }));
    // the query vector, above the key vectors and the products it multiplies
    var qRow = svg(s, "g", { "data-al": "query-vector" });
    svg(qRow, "text", { x: x - 6, y: y0 - 8, "text-anchor": "end", "dominant-baseline": "central", "font-size": size, "font-family": MONO }, "q");
    for (var d = 0; d < dh; d++) {
      svg(qRow, "rect", { "data-al": "cell", "data-col": "q", "data-dim": d, x: colX.k + d * cw, y: y0 - 14, width: cw, height: 12, fill: colorAt(spec.colorscale, 0.5 + c.query[d] / (2 * kMax)) });
      svg(qRow, "rect", { x: colX.qk + d * cw, y: y0 - 14, width: cw, height: 12, fill: colorAt(spec.colorscale, 0.5 + c.query[d] / (2 * kMax)) });
    }
    order.forEach(function (j, r) {
      var y = y0 + r * rowH;
      var g = svg(s, "g", { "data-al": "neuron-row", "data-key": j });
      tokenLabel(g, { x: x - 6, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "central", "font-size": size, "font-family": MONO }, clip(role.keyLabels[j], cap));
      for (var d = 0; d < dh; d++) {
        svg(g, "rect", { "data-al": "cell", "data-col": "k", x: colX.k + d * cw, y: y + 2, width: cw, height: rowH - 4, fill: colorAt(spec.colorscale, 0.5 + c.keys[j][d] / (2 * kMax)) });
        svg(g, "rect", { "data-al": "cell", "data-col": "qk", x: colX.qk + d * cw, y: y + 2, width: cw, height: rowH - 4, fill: colorAt(spec.colorscale, 0.5 + c.products[j][d] / (2 * pMax)) });
      }
      [["dot", c.dot[j]], ["scaled", c.scaled[j]], ["masked", c.masked[j]]].forEach(function (e) {
        svg(g, "text", { "data-al": "cell", "data-col": e[0], "data-value": String(e[1]), x: colX[e[0]] + 52, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "central", "font-size": size, "font-family": MONO, fill: e[0] === "masked" && e[1] === -Infinity ? "#999" : "#222" }, fmt(e[1], 3));
      });
      var p = c.softmax[j];
      svg(g, "rect", { x: colX.softmax, y: y + 3, width: 80, height: rowH - 6, fill: "#f0f0f0" });
      svg(g, "rect", { "data-al": "cell", "data-col": "softmax", "data-value": String(p), x: colX.softmax, y: y + 3, width: (80 * (p === p ? p : 0)).toFixed(2), height: rowH - 6, fill: "#3b6fb6" });
      svg(g, "text", { x: colX.softmax + 86, y: y + rowH / 2, "dominant-baseline": "central", "font-size": size, "font-family": MONO }, fmt(p, 3));
    });
    var height = y0 + order.length * rowH + 10;
    s.setAttribute("width", width);
    s.setAttribute("height", height);
    s.setAttribute("viewBox", "0 0 " + width + " " + height);
  }

  // ------------------------------------------------------------ training scrubber
  function scrubberView(root, spec, state, handle) {
    var bar = html(root, "div", { class: "al-bar" });
    var n = spec.snapshots.length;
    var play = html(bar, "button", { type: "button", "data-al": "play" }, handle.timer ? "Pause" : "Play");
    var slider = html(bar, "input", { type: "range", min: 0, max: n - 1, step: 1, value: state.index, "data-al": "slider", "aria-label": "training snapshot" });
    var label = html(bar, "span", { "data-al": "step-label" });
    saveButtons(bar, handle);
    var rows = spec.snapshots[0].cells.length, cols = rows ? spec.snapshots[0].cells[0].length : 0;
    var cell = Math.max(4, Math.min(24, Math.floor(420 / Math.max(rows, cols, 1))));
    var size = 11, cap = 12;
    var showLabels = cell >= 8;
    var lw = showLabels ? maxWidth(spec.queryLabels, size, cap) + 10 : 10;
    var lh = showLabels ? maxWidth(spec.keyLabels, size, cap) + 10 : 10;
    var top = (spec.title ? 24 : 4) + 22;
    var x0 = 8 + lw, y0 = top + lh;
    var curveW = 220, curveH = 90;
    var W = x0 + cols * cell + 40 + curveW + 16, H = Math.max(y0 + rows * cell, top + curveH + 40) + 12;
    var scroll = html(root, "div", { class: "al-scroll" });
    var s = svg(scroll, "svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, "data-al": "canvas", "font-family": FONT });
    handle.svgNode = s;
    titleText(s, spec.title, 8, 16);
    var caption = svg(s, "text", { x: 8, y: top - 8, "font-size": 12, fill: "#444", "data-al": "caption", "data-al-fit": "" });
    if (showLabels) {
      spec.queryLabels.forEach(function (t, i) {
        tokenLabel(s, { x: x0 - 4, y: y0 + (i + 0.5) * cell, "text-anchor": "end", "dominant-baseline": "central", "font-size": size, "font-family": MONO }, clip(t, cap));
      });
      spec.keyLabels.forEach(function (t, j) {
        var xx = x0 + (j + 0.5) * cell;
        tokenLabel(s, { x: xx, y: y0 - 4, transform: "rotate(-90 " + xx + " " + (y0 - 4) + ")", "dominant-baseline": "central", "font-size": size, "font-family": MONO }, clip(t, cap));
      });
    }
    var rects = [];
    for (var i = 0; i < rows; i++) {
      for (var j = 0; j < cols; j++) {
        rects.push(svg(s, "rect", { "data-al": "cell", "data-row": i, "data-col": j, x: x0 + j * cell, y: y0 + i * cell, width: cell, height: cell }));
      }
    }
    // loss curve with a marker at the shown step
    var losses = spec.snapshots.map(function (sn) { return sn.loss; });
    var have = losses.filter(function (v) { return typeof v === "number" && isFinite(v); });
    var marker = null;
    var cx = x0 + cols * cell + 40, cy = top + 10;
    var px = function () { return 0; }, py = px;
    if (have.length) {
      var lo = Math.min.apply(null, have), hi = Math.max.apply(null, have);
      if (hi === lo) hi = lo + 1;
      var s0 = spec.snapshots[0].step, s1 = spec.snapshots[n - 1].step;
      px = function (st) { return cx + (s1 > s0 ? (st - s0) / (s1 - s0) : 0.5) * curveW; };
      py = function (v) { return cy + curveH - (v - lo) / (hi - lo) * curveH; };
      svg(s, "rect", { x: cx, y: cy, width: curveW, height: curveH, fill: "none", stroke: "#ccc" });
      var d = "";
      spec.snapshots.forEach(function (sn) {
        if (typeof sn.loss === "number" && isFinite(sn.loss)) d += (d ? "L" : "M") + px(sn.step).toFixed(1) + " " + py(sn.loss).toFixed(1);
      });
      svg(s, "path", { d: d, fill: "none", stroke: "#3b6fb6", "stroke-width": 1.5, "data-al": "loss-curve" });
      svg(s, "text", { x: cx, y: cy + curveH + 14, "font-size": 11, fill: "#444" }, "training loss " + fmt(hi, 3) + " \u2192 " + fmt(lo, 3));
      marker = svg(s, "circle", { r: 4, fill: "#c23", "data-al": "loss-marker" });
    }
    function show(k) {
      state.index = k;
      var sn = spec.snapshots[k];
      for (var i = 0; i < rows; i++) {
        for (var j = 0; j < cols; j++) {
          var v = sn.cells[i][j] / 1000;
          var r = rects[i * cols + j];
          r.setAttribute("fill", colorAt(spec.colorscale, v));
          r.setAttribute("data-value", v.toFixed(3));
        }
      }
      var text = "step " + sn.step + (typeof sn.loss === "number" ? ", loss " + fmt(sn.loss, 4) : "") + " (" + (k + 1) + " of " + n + ")";
      label.textContent = text;
      caption.textContent = text;
      slider.value = String(k);
      root.setAttribute("data-al-index", String(k));
      if (marker && typeof sn.loss === "number" && isFinite(sn.loss)) {
        marker.setAttribute("cx", px(sn.step).toFixed(1));
        marker.setAttribute("cy", py(sn.loss).toFixed(1));
      }
    }
    slider.addEventListener("input", function () { show(Number(slider.value)); });
    play.addEventListener("click", function () {
      if (handle.timer) {
        clearInterval(handle.timer);
        handle.timer = null;
        play.textContent = "Play";
        return;
      }
      if (state.index >= n - 1) show(0);
      play.textContent = "Pause";
      handle.timer = setInterval(function () {
        if (state.index >= n - 1) {
          clearInterval(handle.timer);
          handle.timer = null;
          play.textContent = "Play";
          return;
        }
        show(state.index + 1);
      }, 400);
    });
    handle.show = show;
    show(state.index);
  }

  // ------------------------------------------------------------ entry point
  var VIEWS = { head: headView, model: modelView, neuron: neuronView, scrubber: scrubberView };

  function initialState(spec) {
    var i = spec.initial || {};
    if (spec.view === "scrubber") return { index: typeof i === "number" ? i : 0 };
    if (spec.view === "neuron") return { role: i.role || 0, layer: i.layer || 0, head: i.head || 0, query: i.query || 0 };
    return { role: i.role || 0, layer: i.layer || 0, heads: (i.heads || []).slice(), detail: null };
  }

  function render(element, spec) {
    if (!element || !element.appendChild) throw new TypeError("AttentionLabViews.render: element must be a DOM element");
    if (!spec || spec.version !== VERSION || !VIEWS[spec.view]) {
      throw new TypeError("AttentionLabViews.render: spec must be a view spec of version " + VERSION + " (view head, model, neuron or scrubber)");
    }
    ensureCss();
    if (element.__attentionLabView) element.__attentionLabView.destroy();
    var handle = {
      element: element, spec: spec, state: initialState(spec), svgNode: null, timer: null,
      focus: function () {},
      redraw: function () {
        if (handle.timer) {
          clearInterval(handle.timer);
          handle.timer = null;
        }
        while (element.firstChild) element.removeChild(element.firstChild);
        var root = html(element, "div", { class: "al-root attention-lab-view-root", "data-al-view": handle.spec.view });
        VIEWS[handle.spec.view](root, handle.spec, handle.state, handle);
        fitText(handle.svgNode);
        element.setAttribute("data-al-rendered", "true");
        return handle;
      },
      /** Shows another spec of the same view, keeping the selection where it still fits. */
      update: function (next) {
        if (!next || next.version !== VERSION || next.view !== handle.spec.view) {
          throw new TypeError("AttentionLabViews update: the spec must be a version " + VERSION + " " + handle.spec.view + " spec");
        }
        handle.spec = next;
        var fresh = initialState(next);
        if (next.view === "scrubber") handle.state.index = Math.min(handle.state.index, next.snapshots.length - 1);
        else {
          if (handle.state.role >= next.roles.length) handle.state = fresh;
          var r = next.roles[handle.state.role];
          if (handle.state.layer >= r.layers.length) handle.state.layer = 0;
          if (handle.state.query !== undefined && handle.state.query >= r.queryLabels.length) handle.state.query = 0;
          if (handle.state.head !== undefined && handle.state.head >= (r.layers[handle.state.layer] || []).length) handle.state.head = 0;
        }
        return handle.redraw();
      },
      svgString: function () { return serialize(handle.svgNode); },
      pngBlob: function (scale) { return pngBlob(handle.svgNode, scale); },
      destroy: function () {
        if (handle.timer) clearInterval(handle.timer);
        handle.timer = null;
        while (element.firstChild) element.removeChild(element.firstChild);
        element.removeAttribute("data-al-rendered");
        element.__attentionLabView = null;
      },
    };
    element.__attentionLabView = handle;
    return handle.redraw();
  }

  g.AttentionLabViews = {
    version: VERSION,
    render: render,
    neuronColumns: neuronColumns,
    decodeRows: decodeRows,
    colorAt: colorAt,
  };
})(typeof globalThis !== "undefined" ? globalThis : this);
`;
