/**
 * The playground's markup and style. The form is empty here: playground-client.ts fills it from
 * /openapi.json. `%CONFIG%` is replaced by the server's JSON (playground.ts), nothing else.
 */

export const PLAYGROUND_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fc-screenshot playground</title>
<link rel="stylesheet" href="/playground.css">
<script type="application/json" id="playground-config">%CONFIG%</script>
<script type="module" src="/playground.js"></script>
</head><body>
<form id="form" novalidate autocomplete="off">
  <header><h1>fc-screenshot</h1><p>Every option of <code>GET /</code> and <code>POST /</code>, from
  <a href="/openapi.json">/openapi.json</a>. Empty fields keep their defaults.</p></header>
  <div id="access" hidden></div>
  <div id="fields"><p class="loading">Loading the options…</p></div>
  <div class="actions"><button id="go" type="submit">Capture</button><span id="state"></span></div>
</form>
<main>
  <section id="result" aria-live="polite">
    <div id="placeholder">Fill in a URL (or keep the default page) and press <b>Capture</b>.
    The request as code is below; it follows the form as you type.</div>
    <div id="image"></div>
    <pre id="error" hidden></pre>
  </section>
  <section id="response" hidden>
    <h2>Response</h2>
    <dl id="meta"></dl>
    <h3>Where the time went <small>(Server-Timing)</small></h3>
    <div id="timing"><div id="bar"></div><ol id="phases"></ol></div>
  </section>
  <section id="code">
    <h2>The request as code</h2>
    <div class="tabs" role="tablist"></div>
    <div class="snippets"></div>
  </section>
</main>
</body></html>
`;

export const PLAYGROUND_STYLE = `
:root{--accent:#1a56db;--bad:#b42318;--line:#d8dce3;--muted:#5b6472;--pane:#f5f6f8}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Helvetica Neue",Arial,sans-serif;
  margin:0;display:grid;grid-template-columns:minmax(320px,400px) 1fr;height:100vh;color:#1d2433}
form{background:var(--pane);border-right:1px solid var(--line);overflow-y:auto;display:flex;flex-direction:column}
header{padding:14px 16px 4px}header h1{font-size:18px;margin:0}header p{margin:4px 0;color:var(--muted);font-size:13px}
#access{margin:8px 16px;padding:8px 10px;background:#fff8e1;border:1px solid #f0d98c;border-radius:6px;font-size:13px}
#access p{margin:4px 0}
#fields{flex:1;padding:0 8px}
details{border-bottom:1px solid var(--line);padding:6px 8px}
summary{font-weight:600;cursor:pointer;padding:4px 0}
summary .count{color:var(--muted);font-weight:400;font-size:12px}
.field{margin:8px 0 12px}
.field label.head{display:flex;gap:6px;align-items:baseline;flex-wrap:wrap}
.field .name{font-weight:600;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.field .meta{color:var(--muted);font-size:12px}
.field .help{margin:2px 0 0;color:var(--muted);font-size:12px}
.field .problem{margin:4px 0 0;color:var(--bad);font-size:12px;font-weight:600}
.field.invalid input,.field.invalid select,.field.invalid textarea{border-color:var(--bad);box-shadow:0 0 0 2px #fcd9d6}
.field.invalid .name{color:var(--bad)}
input,select,textarea{font:inherit;width:100%;padding:5px 7px;border:1px solid #b9c0cc;border-radius:4px;background:#fff}
textarea{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;min-height:3.2em;resize:vertical}
input[type=checkbox]{width:auto;margin:0 6px 0 0}
.check{display:flex;align-items:center;gap:4px}
.set{display:flex;flex-wrap:wrap;gap:2px 12px}.set label{display:flex;align-items:center;font-size:13px}
.actions{position:sticky;bottom:0;background:var(--pane);border-top:1px solid var(--line);padding:10px 16px;
  display:flex;gap:10px;align-items:center}
button{font:inherit;padding:7px 16px;background:var(--accent);color:#fff;border:0;border-radius:5px;cursor:pointer}
button:disabled{opacity:.6;cursor:progress}
button.small{padding:2px 8px;font-size:12px;background:#e7ebf3;color:#1d2433}
#state{color:var(--muted);font-size:13px}
main{overflow-y:auto;padding:16px 20px;display:flex;flex-direction:column;gap:18px;min-width:0}
h2{font-size:15px;margin:0 0 8px}h3{font-size:13px;margin:12px 0 6px}h3 small{color:var(--muted);font-weight:400}
#placeholder{color:var(--muted);padding:28px;border:2px dashed var(--line);border-radius:8px;text-align:center}
#image img{max-width:100%;max-height:70vh;border:1px solid var(--line);border-radius:4px;
  background:repeating-conic-gradient(#eee 0 25%,#fff 0 50%) 0 0/16px 16px}
#error{color:var(--bad);background:#fff5f4;border:1px solid #f3c2bd;padding:10px;border-radius:6px;margin:0}
#meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0;font-size:13px}
#meta dt{color:var(--muted)}#meta dd{margin:0;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
  overflow-wrap:anywhere}
#meta dd.bad{color:var(--bad);font-weight:600}
#bar{display:flex;height:22px;border-radius:4px;overflow:hidden;background:#eef0f4}
#bar span{min-width:2px}
#phases{display:flex;flex-wrap:wrap;gap:4px 16px;list-style:none;padding:0;margin:6px 0 0;font-size:12px}
#phases li{background:none}
#phases li::before{content:"";display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;
  background:currentColor;vertical-align:-1px}
#phases li span{color:#1d2433}
.c0{background:#1a56db;color:#1a56db}.c1{background:#e07b00;color:#e07b00}.c2{background:#0e9f6e;color:#0e9f6e}
.c3{background:#9061f9;color:#9061f9}.c4{background:#e02424;color:#e02424}.c5{background:#0694a2;color:#0694a2}
.c6{background:#c27803;color:#c27803}.c7{background:#7e3af2;color:#7e3af2}
.total{color:#6b7280}
.tabs{display:flex;gap:4px;border-bottom:1px solid var(--line)}
.tabs button{background:none;color:var(--muted);border-radius:5px 5px 0 0;padding:5px 12px}
.tabs button[aria-selected=true]{background:#1d2433;color:#fff}
.snippet{position:relative}
.snippet pre{background:#1d2433;color:#e6e9ef;padding:12px 70px 12px 12px;border-radius:0 0 6px 6px;margin:0;overflow-x:auto;
  font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all}
.snippet .small{position:absolute;top:8px;right:8px}
.snippet p{margin:6px 0 0;color:var(--muted);font-size:12px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
@media (max-width:800px){body{grid-template-columns:1fr;height:auto}form{max-height:none}}
`;
