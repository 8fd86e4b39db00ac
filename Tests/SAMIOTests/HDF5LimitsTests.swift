// HDF5 shapes are not trusted: a dataset that declares 2^30 elements but was never written (Fixtures/checkpoints/
// unwritten_huge_dataset.h5, 1.6 KB, made with h5py `create_dataset(shape=(1<<30,))`) used to make readTensor
// allocate 4 GB of fill values.
import Foundation
import SAMIO
import XCTest

final class HDF5LimitsTests: XCTestCase {
    func testDeclaredShapeBeyondStoredBytesIsRefusedBeforeAllocating() throws {
        let path = CheckpointFixtures.path("unwritten_huge_dataset.h5")
        let f = try HDF5File.open(path: path)
        defer { try? f.close() }
        XCTAssertEqual(try f.shape(of: "low_res_logits"), [1 << 30], "the shape itself is reported")
        assertIOError(try f.readTensor("low_res_logits"), ["unwritten_huge_dataset.h5", "low_res_logits", "1073741824"]) {
            if case .truncated = $0 { return true } else { return false }
        }
        assertIOError(try f.readInt64("labels"), ["labels", "268435456"]) {
            if case .truncated = $0 { return true } else { return false }
        }
    }
}
