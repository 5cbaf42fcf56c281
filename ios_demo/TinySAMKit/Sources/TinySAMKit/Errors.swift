import Foundation

/// A bad input or a bundle that breaks the contract; the message names the problem.
public struct TinySAMError: Error, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw TinySAMError(message()) }
}
