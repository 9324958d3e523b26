// highlight.js: a small highlighter for the Python and bash the model runs. It builds DOM
// nodes (never HTML strings), so code from the model cannot inject markup.

const PY = new Set(("False None True and as assert async await break class continue def del elif else except " +
  "finally for from global if import in is lambda nonlocal not or pass raise return try while with yield").split(" "));
const SH = new Set(("if then else elif fi for while until do done case esac in function return export local " +
  "set unset shift exit echo printf cd ls cat head tail wc grep sed awk sort uniq cut mkdir rm cp mv " +
  "python python3 pip pip3 time").split(" "));

const TOKEN = /(#[^\n]*)|("""[\s\S]*?"""|'''[\s\S]*?'''|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')|(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\$[0-9?@#*])|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)/g;

// highlight returns code as a fragment of text nodes and classed spans.
export function highlight(code, lang) {
  const words = lang === "python" ? PY : SH;
  const frag = document.createDocumentFragment();
  let last = 0;
  const span = (cls, text) => {
    const s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    frag.append(s);
  };
  for (const m of code.matchAll(TOKEN)) {
    const [tok, com, str, sv, num, word] = m;
    // In bash "#" starts a comment only at the start of a word.
    if (com && lang !== "python" && m.index > 0 && !/\s/.test(code[m.index - 1])) continue;
    if (sv && lang === "python") continue;
    if (m.index > last) frag.append(code.slice(last, m.index));
    if (com) span("com", tok);
    else if (str) span("str", tok);
    else if (sv) span("var", tok);
    else if (num) span("num", tok);
    else if (word && words.has(word)) span("kw", tok);
    else frag.append(tok);
    last = m.index + tok.length;
  }
  if (last < code.length) frag.append(code.slice(last));
  return frag;
}
