// Errors of `sam serve`: each becomes an HTTP status with a one-line message, never a crash.
import Foundation
import Hummingbird
import SAMIO
import SAMInference

/// A refused request: the status and the message the client sees (`{"error": {"message": …}}`).
public struct ServeError: Error, CustomStringConvertible, Equatable {
    public var status: Int
    public var message: String

    public init(_ status: Int, _ message: String) { self.status = status; self.message = message }

    public var description: String { message }

    public static func badRequest(_ m: String) -> ServeError { ServeError(400, m) }
    public static func forbidden(_ m: String) -> ServeError { ServeError(403, m) }
    public static func notFound(_ m: String) -> ServeError { ServeError(404, m) }
    public static func tooLarge(_ m: String) -> ServeError { ServeError(413, m) }
    public static func unsupportedMedia(_ m: String) -> ServeError { ServeError(415, m) }

    /// The library's errors as statuses: a bad prompt or a corrupt image is the client's fault (400), an image that is
    /// not PNG/JPEG/BMP 415, one beyond the pixel limits 413; anything else is the server's (500).
    public static func from(_ error: any Error) -> ServeError {
        switch error {
        case let e as ServeError: return e
        case let e as PromptError: return .badRequest(e.description)
        case let e as PromptFileError: return .badRequest(e.description)
        case let e as InputError: return .badRequest(e.description)
        case let e as PromptListError: return .badRequest(e.description)
        case let e as ImageError:
            switch e {
            case .unknownFormat: return .unsupportedMedia(e.description)
            case .tooLarge: return .tooLarge(e.description)
            case .notFound: return .notFound(e.description)
            case .truncated, .corrupt, .unsupportedVariant: return .badRequest(e.description)
            case .writeFailed: return ServeError(500, e.description)
            }
        case let e as IOError: return ServeError(500, e.description)
        case let e as HTTPResponseError:
            return ServeError(Int(e.status.code), e.status == .contentTooLarge ? "request body too large" : e.status.reasonPhrase)
        default: return ServeError(500, "\(error)")
        }
    }

    var httpError: HTTPError {
        HTTPError(HTTPResponse.Status(code: status), message: message)
    }
}
