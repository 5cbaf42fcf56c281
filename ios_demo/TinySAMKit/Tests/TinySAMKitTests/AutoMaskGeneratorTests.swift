import Foundation
import XCTest
@testable import TinySAMKit

/// The orchestration over a fake decoder that knows a scene of rectangles (like the Python oracle).
final class AutoMaskGeneratorTests: XCTestCase {
    /// Objects as XYXY rectangles in the 1024 frame; a point on one returns its mask with high logits.
    final class RectangleDecoder: PromptDecoder {
        let rects: [[Int]]
        var calls = 0

        init(_ rects: [[Int]]) { self.rects = rects }

        func decode(_ prompt: PackedPrompt) throws -> DecoderOutput {
            calls += 1
            let size = Transforms.lowResSize
            var lowRes = [Float](repeating: -16, count: 3 * size * size)
            let (x, y) = (Int(prompt.coords[0]), Int(prompt.coords[1]))
            let hit = rects.first { x >= $0[0] && x < $0[2] && y >= $0[1] && y < $0[3] }
            if let hit {
                for k in 0..<3 {
                    for r in (hit[1] / 4)..<(hit[3] / 4) {
                        for c in (hit[0] / 4)..<(hit[2] / 4) { lowRes[(k * size + r) * size + c] = 16 }
                    }
                }
            }
            return DecoderOutput(lowRes: lowRes, iou: hit != nil ? [0.5, 0.96, 0.5] : [0.3, 0.3, 0.3])
        }
    }

    func testHierarchicalFindsEveryObjectWithFewerCalls() throws {
        let rects = [[0, 0, 1024, 400], [100, 500, 400, 900], [600, 520, 1000, 1000]]
        var config = AutoMaskConfig()
        config.hierarchical = false
        let grid = RectangleDecoder(rects)
        let gridMasks = try AutoMaskGenerator(decoder: grid, height: 1024, width: 1024, maxPoints: 8, config: config).generate()
        let hier = RectangleDecoder(rects)
        let generator = try AutoMaskGenerator(decoder: hier, height: 1024, width: 1024, maxPoints: 8)
        let hierMasks = try generator.generate()
        XCTAssertEqual(gridMasks.count, 3)
        XCTAssertEqual(hierMasks.count, 3)
        XCTAssertEqual(grid.calls, 1024)
        XCTAssertEqual(hier.calls, generator.promptsDecoded)
        XCTAssertLessThan(hier.calls, 512)
    }

    func testFullyCoveredImageStopsAfterTheSparseRound() throws {
        let decoder = RectangleDecoder([[0, 0, 1024, 1024]])
        let masks = try AutoMaskGenerator(decoder: decoder, height: 300, width: 300, maxPoints: 8).generate()
        XCTAssertEqual(masks.count, 1)
        XCTAssertEqual(decoder.calls, 64)
    }

    func testCancellationStopsDecoding() throws {
        let decoder = RectangleDecoder([])
        _ = try AutoMaskGenerator(decoder: decoder, height: 100, width: 100, maxPoints: 8).generate(isCancelled: { decoder.calls >= 10 })
        XCTAssertEqual(decoder.calls, 10)
    }
}
