/**
 * `blockUrls` patterns: `*` matches any run of characters, everything else itself, and a pattern
 * matches when it occurs anywhere in the URL (`ads.example` blocks every URL that contains it).
 *
 * Matched without regular expressions: each literal piece is found with indexOf, left to right, the
 * first occurrence each time. For `*`-only patterns the leftmost choice is always as good as any
 * other, so nothing is ever retried: the cost is bounded by pieces × URL length, whatever the
 * pattern. (A pattern compiled to a backtracking RegExp, `*a*a*a…` → `.*a.*a.*a…`, can take
 * exponential time on a URL that almost matches, and it runs on node's only thread.)
 */
export function matchesUrlPattern(pattern: string, url: string): boolean {
  let from = 0;
  for (const piece of pattern.split('*')) {
    if (piece === '') continue;
    const at = url.indexOf(piece, from);
    if (at < 0) return false;
    from = at + piece.length;
  }
  return true;
}
