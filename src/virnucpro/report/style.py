"""The report pages' look: colours, inline CSS, the one small script (sortable tables) and the page shell."""

from virnucpro.shown import shown_html as escape  # controls and bidi overrides escaped too

VERDICT_COLORS = {"virus": "#c0392b", "others": "#2e86c1", "no_frames": "#a6acaf"}


def verdict_legend() -> str:
    """Colour keys of the three verdicts (inline HTML)."""
    return "".join(f'<span class="key"><i style="background:{col}"></i>{k.replace("_", " ")}</span>'
                   for k, col in VERDICT_COLORS.items())

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0 auto;max-width:1280px;
padding:0 24px 40px;background:#fff}
header{border-bottom:3px solid #c0392b;margin-bottom:8px}h1{margin:18px 0 2px;font-size:24px}
header p{margin:0 0 10px;color:#555}h2{font-size:18px;margin:26px 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;
min-width:120px}.card b{display:block;font-size:20px}.card span{color:#555;font-size:12px}
.mix{display:flex;align-items:center;gap:14px;flex-wrap:wrap}.key{font-size:12px;color:#444}
.key i{display:inline-block;width:10px;height:10px;margin:0 4px 0 8px;border-radius:2px}
.note{color:#555;font-size:13px}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:18px;
align-items:start}
figure{margin:0;border:1px solid #eee;border-radius:6px;padding:8px}figcaption{font-size:13px;color:#444;
max-width:600px;margin-bottom:4px}svg.chart{max-width:100%;height:auto;font-size:11px;fill:#333}
svg .label{font-size:12px;fill:#222}svg .small{font-size:10px}
table{border-collapse:collapse;font-size:13px;margin:10px 0}td,th{border-bottom:1px solid #eee;padding:3px 8px;
text-align:left;vertical-align:top}caption{text-align:left;font-weight:600;padding:4px 0}
table.sortable th{cursor:pointer;background:#f6f6f6;user-select:none}table.sortable th.asc:after{content:" \\25B2"}
table.sortable th.desc:after{content:" \\25BC"}table.sortable td{font-variant-numeric:tabular-nums}
svg.spark,svg.mix{vertical-align:middle}td a{color:#1a5276}
.hash{font-family:ui-monospace,monospace;font-size:11px;word-break:break-all;max-width:560px}
table.wide{width:100%}code{font-size:12px;word-break:break-all}
.short{background:#fdebd0;color:#7e5109;border-radius:3px;padding:0 4px;font-size:11px}
footer{margin-top:30px;color:#777;font-size:12px;border-top:1px solid #eee;padding-top:8px}
"""

SCRIPT = """
(function(){
  function key(td, num){var t=td.textContent; if(!num) return t; var v=parseFloat(t); return isNaN(v)?-Infinity:v;}
  document.querySelectorAll("table.sortable").forEach(function(table){
    var heads=table.querySelectorAll("th");
    heads.forEach(function(th, col){
      th.addEventListener("click", function(){
        var num=th.dataset.type==="num", asc=!th.classList.contains("asc");
        heads.forEach(function(h){h.classList.remove("asc","desc");});
        th.classList.add(asc?"asc":"desc");
        var body=table.tBodies[0], rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){var x=key(a.cells[col],num), y=key(b.cells[col],num);
          return (x<y?-1:x>y?1:0)*(asc?1:-1);});
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
  document.documentElement.setAttribute("data-report-ready", "1");
})();
"""


def document(title: str, subtitle: str, body: str, footer: str) -> str:
    """A whole self-contained page: head with the CSS, header (title, `subtitle` HTML), `body` HTML, `footer`
    HTML, then the script."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)}</title><style>{CSS}</style></head><body>'
            f'<header><h1>{escape(title)}</h1><p>{subtitle}</p></header>{body}<footer>{footer}</footer>'
            f'<script>{SCRIPT}</script></body></html>\n')
