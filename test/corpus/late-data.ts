/**
 * The corpus's data answers for pages that fetch their content after load (test/corpus/fidelity.ts):
 * the server holds each back by `?ms=N`. Deterministic, so a capture and its reference see the same.
 */

const json = (body: unknown) => ({ type: 'application/json', body: JSON.stringify(body) });

/** Cards of an app shell: title, a figure, a colour. */
const cards = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    title: `Region ${String.fromCharCode(65 + i)}`,
    value: 1200 + i * 337,
    colour: ['#1e88e5', '#43a047', '#fb8c00', '#8e24aa', '#e53935', '#00897b'][i % 6],
  }));

/** A series for charts. */
const series = () => ({
  labels: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'],
  values: [12, 19, 7, 15, 22, 9, 17],
});

/** A Lottie (Bodymovin) animation: a red square sliding from x 50 to x 350 over one second, once. */
const slidingSquare = () => {
  const zero = (k: number | number[]) => ({ a: 0, k });
  return {
    v: '5.7.4',
    fr: 30,
    ip: 0,
    op: 30,
    w: 400,
    h: 200,
    nm: 'slide',
    ddd: 0,
    assets: [],
    layers: [
      {
        ddd: 0,
        ind: 1,
        ty: 4,
        nm: 'square',
        sr: 1,
        ks: {
          o: zero(100),
          r: zero(0),
          p: {
            a: 1,
            k: [
              { t: 0, s: [50, 100, 0], o: { x: [0.33], y: [0] }, i: { x: [0.67], y: [1] } },
              { t: 29, s: [350, 100, 0] },
            ],
          },
          a: zero([0, 0, 0]),
          s: zero([100, 100, 100]),
        },
        ao: 0,
        shapes: [
          {
            ty: 'gr',
            nm: 'g',
            it: [
              { ty: 'rc', nm: 'r', d: 1, s: zero([80, 80]), p: zero([0, 0]), r: zero(0) },
              { ty: 'fl', nm: 'f', c: zero([0.9, 0.2, 0.2, 1]), o: zero(100), r: 1 },
              {
                ty: 'tr',
                p: zero([0, 0]),
                a: zero([0, 0]),
                s: zero([100, 100]),
                r: zero(0),
                o: zero(100),
                sk: zero(0),
                sa: zero(0),
              },
            ],
          },
        ],
        ip: 0,
        op: 30,
        st: 0,
        bm: 0,
      },
    ],
  };
};

const ARTICLE = [
  '# Release notes',
  '',
  'This **release** brings a faster *settle* step and a font set that knows `system-ui`.',
  '',
  '- Data fetched after load is waited for',
  '- Late images are waited for',
  '- Long tweens end before the capture',
  '',
  '> Captured once the page has finished loading.',
].join('\n');

/** The answer for a data path, or undefined when the path is not one. */
export function lateAnswer(path: string, query: URLSearchParams): { type: string; body: string } | undefined {
  const n = Number(query.get('n') ?? 6);
  if (path === '/api/cards') return json(cards(n));
  if (path === '/api/series') return json(series());
  if (path === '/anim/slide.json') return json(slidingSquare());
  if (path === '/md/article') return { type: 'text/markdown; charset=utf-8', body: ARTICLE };
  if (path === '/fragment/panel') {
    const rows = cards(n)
      .map((c) => `<li style="border-left:8px solid ${c.colour}">${c.title}: ${c.value}</li>`)
      .join('');
    return { type: 'text/html; charset=utf-8', body: `<h2>Panel loaded</h2><ul class="rows">${rows}</ul>` };
  }
  return undefined;
}
