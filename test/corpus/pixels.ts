/** Reading a capture's pixels with sharp, for assertions of what a person would see. */
import sharp from 'sharp';

export type Rgb = [number, number, number];

export const hex = (h: string): Rgb => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)) as Rgb;

/** Every channel within `tolerance` of the expected colour. */
export const near = (a: Rgb, b: Rgb | string, tolerance = 12) => {
  const want = typeof b === 'string' ? hex(b) : b;
  return a.every((v, i) => Math.abs(v - want[i]!) <= tolerance);
};

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Pixels {
  width: number;
  height: number;
  at(x: number, y: number): Rgb;
  /** How many pixels of the box satisfy `test`. */
  count(box: Box, test: (rgb: Rgb) => boolean): number;
  /** Share (0–1) of the box's pixels within tolerance of a colour. */
  share(box: Box, colour: string, tolerance?: number): number;
  /** Dark pixels (text, lines) in the box: every channel below 128. */
  ink(box: Box): number;
  /** The rows, top to bottom, where column x has this colour. */
  rowsOf(x: number, colour: string, tolerance?: number): number[];
}

export async function pixels(image: Buffer): Promise<Pixels> {
  const { data, info } = await sharp(image, { limitInputPixels: false })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number): Rgb => {
    const i = (y * info.width + x) * 3;
    return [data[i]!, data[i + 1]!, data[i + 2]!];
  };
  const count = (box: Box, test: (rgb: Rgb) => boolean) => {
    let n = 0;
    for (let y = box.y; y < box.y + box.height; y++) {
      for (let x = box.x; x < box.x + box.width; x++) if (test(at(x, y))) n++;
    }
    return n;
  };
  return {
    width: info.width,
    height: info.height,
    at,
    count,
    share: (box, colour, tolerance = 12) => count(box, (p) => near(p, colour, tolerance)) / (box.width * box.height),
    ink: (box) => count(box, (p) => p.every((v) => v < 128)),
    rowsOf: (x, colour, tolerance = 12) => {
      const rows: number[] = [];
      for (let y = 0; y < info.height; y++) if (near(at(x, y), colour, tolerance)) rows.push(y);
      return rows;
    },
  };
}

/** Rows as runs: [[first, last], …], to say "one band of 60 rows at the top" simply. */
export function runs(rows: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const r of rows) {
    const last = out.at(-1);
    if (last && r === last[1] + 1) last[1] = r;
    else out.push([r, r]);
  }
  return out;
}
