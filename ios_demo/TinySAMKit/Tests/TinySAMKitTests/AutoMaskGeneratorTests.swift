import Foundation
import XCTest
@testable import TinySAMKit

/// The orchestration over a fake decoder that knows a scene of rectangles (like the Python oracle).
final class AutoMaskGeneratorTests: XCTestCase {
    /// Objects as XYXY rectangles in the 1024 frame; a point on one returns its mask with high
    /// logits. Records the size of every call.
    final class RectangleDecoder: PromptDecoder {
        let rects: [[Int]]
        let maxBatch: Int
        var batches: [Int] = []
        var prompts: Int { batches.reduce(0, +) }

        init(_ rects: [[Int]], maxBatch: Int = 1) {
            self.rects = rects
            self.maxBatch = maxBatch
        }

        func decode(_ prompts: [PackedPrompt]) throws -> [DecoderOutput] {
            XCTAssertTrue((1...max(maxBatch, 1)).contains(prompts.count), "\(prompts.count) prompts, maxBatch \(maxBatch)")
            batches.append(prompts.count)
            return prompts.map(answer)
        }

        private func answer(_ prompt: PackedPrompt) -> DecoderOutput {
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

    let rects = [[0, 0, 1024, 400], [100, 500, 400, 900], [600, 520, 1000, 1000]]

    func testHierarchicalFindsEveryObjectWithFewerPrompts() throws {
        var config = AutoMaskConfig()
        config.hierarchical = false
        let grid = RectangleDecoder(rects)
        let gridMasks = try AutoMaskGenerator(decoder: grid, height: 1024, width: 1024, maxPoints: 8, config: config).generate()
        let hier = RectangleDecoder(rects)
        let generator = try AutoMaskGenerator(decoder: hier, height: 1024, width: 1024, maxPoints: 8)
        let hierMasks = try generator.generate()
        XCTAssertEqual(gridMasks.count, 3)
        XCTAssertEqual(hierMasks.count, 3)
        XCTAssertEqual(grid.prompts, 1024)
        XCTAssertEqual(hier.prompts, generator.promptsDecoded)
        XCTAssertLessThan(hier.prompts, 512)
    }

    func testBatchesHoldUpToMaxBatchPromptsAndGiveTheSameMasks() throws {
        let single = RectangleDecoder(rects)
        let expected = try AutoMaskGenerator(decoder: single, height: 1024, width: 1024, maxPoints: 8).generate()
        for maxBatch in [3, 64] {
            let decoder = RectangleDecoder(rects, maxBatch: maxBatch)
            var progress: [Int] = []
            let masks = try AutoMaskGenerator(decoder: decoder, height: 1024, width: 1024, maxPoints: 8)
                .generate(progress: { done, _ in progress.append(done) })
            XCTAssertEqual(decoder.prompts, single.prompts)
            XCTAssertEqual(masks.map(\.point), expected.map(\.point))
            // Round one: 64 sparse points; round two: the rest; each round's last call is the short one.
            let roundOne = (64 + maxBatch - 1) / maxBatch
            let sparse = decoder.batches[..<roundOne]
            let dense = decoder.batches[roundOne...]
            XCTAssertEqual(sparse.reduce(0, +), 64)
            XCTAssertTrue(sparse.dropLast().allSatisfy { $0 == maxBatch } && dense.dropLast().allSatisfy { $0 == maxBatch })
            var done = 0
            XCTAssertEqual(progress, decoder.batches.map { done += $0; return done })
        }
    }

    func testGridSendsFullBatches() throws {
        var config = AutoMaskConfig()
        config.hierarchical = false
        let decoder = RectangleDecoder([], maxBatch: 64)
        _ = try AutoMaskGenerator(decoder: decoder, height: 1024, width: 1024, maxPoints: 8, config: config).generate()
        XCTAssertEqual(decoder.batches, [Int](repeating: 64, count: 16))
    }

    func testFullyCoveredImageStopsAfterTheSparseRound() throws {
        let decoder = RectangleDecoder([[0, 0, 1024, 1024]], maxBatch: 3)
        let masks = try AutoMaskGenerator(decoder: decoder, height: 300, width: 300, maxPoints: 8).generate()
        XCTAssertEqual(masks.count, 1)
        XCTAssertEqual(decoder.batches, [Int](repeating: 3, count: 21) + [1])
    }

    func testCancellationStopsBetweenCalls() throws {
        let decoder = RectangleDecoder([], maxBatch: 4)
        let generator = try AutoMaskGenerator(decoder: decoder, height: 100, width: 100, maxPoints: 8)
        _ = try generator.generate(isCancelled: { decoder.batches.count >= 3 })
        XCTAssertEqual(decoder.batches, [4, 4, 4])
        XCTAssertEqual(generator.promptsDecoded, 12)
    }

    func testADecoderThatDropsOutputsIsAnError() throws {
        struct Dropping: PromptDecoder {
            let maxBatch = 4
            func decode(_ prompts: [PackedPrompt]) throws -> [DecoderOutput] { [] }
        }
        XCTAssertThrowsError(try AutoMaskGenerator(decoder: Dropping(), height: 100, width: 100, maxPoints: 8).generate()) {
            XCTAssertTrue("\($0)".contains("0 outputs for 4 prompts"), "\($0)")
        }
        XCTAssertThrowsError(try AutoMaskGenerator(decoder: RectangleDecoder([], maxBatch: 0), height: 100, width: 100, maxPoints: 8)) {
            XCTAssertTrue("\($0)".contains("maxBatch must be at least 1"), "\($0)")
        }
    }
}
