/** Reading pixels of a captured image with sharp: what the tests compare against what a person would see. */
import sharp from 'sharp';

/** The image's size and the RGBA of the pixel at (x, y) (alpha 255 for images without one). */
export async function pixelAt(body: Buffer, x: number, y: number) {
  const { data, info } = await sharp(body).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * 4;
  const rgba = [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
  return { width: info.width, height: info.height, rgba, rgb: rgba.slice(0, 3) };
}

/** The RGB of the pixel at (x, y). */
export const rgbAt = async (body: Buffer, x: number, y: number) => (await pixelAt(body, x, y)).rgb;

/** Every pixel as RGB bytes, for comparing two images. */
export const rgbPixels = (body: Buffer) => sharp(body).removeAlpha().raw().toBuffer();
