import Foundation

/// Mask post-processing: the decoder's 256 x 256 logits -> bilinear (align_corners = false) to the
/// 1024 frame -> crop to the resized image -> bilinear to the original size; masks are logits > 0.
/// Float arithmetic follows PyTorch's CPU bilinear kernel, so results agree with the Python SDK.
public enum MaskPost {
    public static let maskThreshold: Float = 0

    /// Bilinear resize of a row-major `srcH x srcW` map, sampling the top-left `outH x outW` of a
    /// `fullH x fullW` resize (PyTorch `interpolate(..., mode="bilinear", align_corners=False)`).
    public static func resizeBilinear(
        _ src: [Float], srcH: Int, srcW: Int, fullH: Int, fullW: Int, outH: Int? = nil, outW: Int? = nil
    ) throws -> [Float] {
        try require(src.count == srcH * srcW, "expected \(srcH * srcW) values, got \(src.count)")
        let ys = Axis(inSize: srcH, fullSize: fullH, outSize: outH ?? fullH)
        let xs = Axis(inSize: srcW, fullSize: fullW, outSize: outW ?? fullW)
        let width = xs.index.count
        var out = [Float](repeating: 0, count: ys.index.count * width)
        for y in 0..<ys.index.count {
            let row0 = ys.index[y] * srcW
            let row1 = (ys.index[y] + ys.offset[y]) * srcW
            for x in 0..<width {
                let c0 = xs.index[x]
                let c1 = c0 + xs.offset[x]
                let top = xs.lambda0[x] * src[row0 + c0] + xs.lambda1[x] * src[row0 + c1]
                let bottom = xs.lambda0[x] * src[row1 + c0] + xs.lambda1[x] * src[row1 + c1]
                out[y * width + x] = ys.lambda0[y] * top + ys.lambda1[y] * bottom
            }
        }
        return out
    }

    struct Axis {
        var index: [Int] = []
        var offset: [Int] = []
        var lambda0: [Float] = []
        var lambda1: [Float] = []

        init(inSize: Int, fullSize: Int, outSize: Int) {
            let scale = Float(inSize) / Float(fullSize)
            for i in 0..<outSize {
                let real = max(scale * (Float(i) + 0.5) - 0.5, 0)
                let i0 = Int(real)
                index.append(i0)
                offset.append(i0 < inSize - 1 ? 1 : 0)
                let l1 = min(max(real - Float(i0), 0), 1)
                lambda1.append(l1)
                lambda0.append(1 - l1)
            }
        }
    }

    /// Low-res logits (256 x 256) -> logits at the original `height x width`.
    public static func upscaleLogits(_ lowRes: [Float], height: Int, width: Int) throws -> [Float] {
        let low = Transforms.lowResSize
        let size = Transforms.imageSize
        let input = try Transforms.preprocessShape(height: height, width: width)
        let cropped = try resizeBilinear(lowRes, srcH: low, srcW: low, fullH: size, fullW: size, outH: input.height, outW: input.width)
        return try resizeBilinear(cropped, srcH: input.height, srcW: input.width, fullH: height, fullW: width)
    }

    /// Binary mask of logits above `threshold`.
    public static func threshold(_ logits: [Float], threshold: Float = maskThreshold) -> [Bool] {
        logits.map { $0 > threshold }
    }
}
