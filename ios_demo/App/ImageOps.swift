import CoreGraphics
import UIKit

/// Photo pixels in and overlays / cut-outs out.
enum ImageOps {
    /// Upright RGB bytes of `image` (orientation applied, alpha dropped).
    static func rgb(of image: UIImage) -> RGBImage? {
        let renderer = UIGraphicsImageRenderer(size: image.size, format: {
            let format = UIGraphicsImageRendererFormat()
            format.scale = 1
            return format
        }())
        guard let upright = renderer.image(actions: { _ in image.draw(at: .zero) }).cgImage else { return nil }
        let (width, height) = (upright.width, upright.height)
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        let drawn = rgba.withUnsafeMutableBytes { buffer -> Bool in
            guard let context = CGContext(
                data: buffer.baseAddress, width: width, height: height, bitsPerComponent: 8, bytesPerRow: width * 4,
                space: CGColorSpaceCreateDeviceRGB(), bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue
            ) else { return false }
            context.draw(upright, in: CGRect(x: 0, y: 0, width: width, height: height))
            return true
        }
        guard drawn else { return nil }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            rgb[3 * i] = rgba[4 * i]
            rgb[3 * i + 1] = rgba[4 * i + 1]
            rgb[3 * i + 2] = rgba[4 * i + 2]
        }
        return RGBImage(pixels: rgb, width: width, height: height)
    }

    /// Colour overlays of `masks` (one colour each) over a transparent image of the photo's size.
    static func overlay(_ masks: [[Bool]], width: Int, height: Int) -> UIImage? {
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        for (index, mask) in masks.enumerated() {
            let colour = palette[index % palette.count]
            for i in mask.indices where mask[i] {
                rgba[4 * i] = colour.0
                rgba[4 * i + 1] = colour.1
                rgba[4 * i + 2] = colour.2
                rgba[4 * i + 3] = 120
            }
        }
        return image(rgba: rgba, width: width, height: height)
    }

    /// The photo's pixels inside `mask`, transparent elsewhere (premultiplied for Core Graphics).
    static func cutout(_ photo: RGBImage, mask: [Bool]) -> UIImage? {
        var rgba = [UInt8](repeating: 0, count: photo.width * photo.height * 4)
        for i in mask.indices where mask[i] {
            rgba[4 * i] = photo.pixels[3 * i]
            rgba[4 * i + 1] = photo.pixels[3 * i + 1]
            rgba[4 * i + 2] = photo.pixels[3 * i + 2]
            rgba[4 * i + 3] = 255
        }
        return image(rgba: rgba, width: photo.width, height: photo.height)
    }

    private static let palette: [(UInt8, UInt8, UInt8)] = [
        (30, 144, 255), (255, 99, 71), (60, 179, 113), (238, 130, 238), (255, 215, 0), (0, 206, 209),
    ]

    private static func image(rgba: [UInt8], width: Int, height: Int) -> UIImage? {
        guard let provider = CGDataProvider(data: Data(rgba) as CFData),
              let cgImage = CGImage(
                width: width, height: height, bitsPerComponent: 8, bitsPerPixel: 32, bytesPerRow: width * 4,
                space: CGColorSpaceCreateDeviceRGB(), bitmapInfo: CGBitmapInfo(rawValue: CGImageAlphaInfo.premultipliedLast.rawValue),
                provider: provider, decode: nil, shouldInterpolate: false, intent: .defaultIntent
              ) else { return nil }
        return UIImage(cgImage: cgImage)
    }
}
