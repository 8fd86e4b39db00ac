// The OpenBLAS kernel decisions (re-exec suggestion and the narrow-kernel notice) on the flag sets of real CPUs.
import SAMTensor
import XCTest

/// `/proc/cpuinfo` flag lines of real machines (trimmed of flags that play no part, kept in the kernel's order).
enum CPUFlags {
    /// Intel Xeon Platinum 8380H (Cooper Lake): AVX-512 with BF16.
    static let cooperlake = "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l3 cdp_l3 invpcid_single intel_ppin ssbd mba ibrs ibpb stibp ibrs_enhanced tpr_shadow vnmi flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 hle avx2 smep bmi2 erms invpcid rtm cqm mpx rdt_a avx512f avx512dq rdseed adx smap clflushopt clwb intel_pt avx512cd avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local avx512_bf16 dtherm ida arat pln pts pku ospke avx512_vnni md_clear flush_l1d arch_capabilities\n"
    /// AMD EPYC 7763 (Zen 3): AVX2 + FMA, no AVX-512.
    static let zen3 = "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf rapl pni pclmulqdq monitor ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 invpcid_single hw_pstate ssbd mba ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local clzero irperf xsaveerptr rdpru wbnoinvd amd_ppin arat npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold v_vmsave_vmload vgif v_spec_ctrl umip pku ospke vaes vpclmulqdq rdpid overflow_recov succor smca fsrm\n"
    /// AMD EPYC 9654 (Zen 4): AVX-512 with BF16.
    static let zen4 = "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good amd_lbr_v2 nopl nonstop_tsc cpuid extd_apicid aperfmperf rapl pni pclmulqdq monitor ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 invpcid_single hw_pstate ssbd mba perfmon_v2 ibrs ibpb stibp ibrs_enhanced vmmcall fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local avx512_bf16 clzero irperf xsaveerptr rdpru wbnoinvd amd_ppin cppc arat npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold avic v_vmsave_vmload vgif x2avic v_spec_ctrl vnmi avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq la57 rdpid overflow_recov succor smca fsrm flush_l1d\n"
    /// AMD EPYC 9005 (Zen 5) as a 2-core VM: AVX-512 with BF16 and VP2INTERSECT.
    static let zen5 = "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw topoext perfctr_core ssbd ibrs ibpb stibp ibrs_enhanced vmmcall fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves avx_vnni avx512_bf16 clzero xsaveerptr wbnoinvd arat npt nrip_save avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid movdiri movdir64b fsrm avx512_vp2intersect flush_l1d arch_capabilities\n"
    /// Intel Xeon E5-2690 v3 (Haswell): AVX2 + FMA.
    static let haswell = "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm cpuid_fault epb invpcid_single pti intel_ppin ssbd ibrs ibpb stibp tpr_shadow vnmi flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid cqm xsaveopt cqm_llc cqm_occup_llc dtherm ida arat pln pts md_clear flush_l1d\n"
    /// A KVM guest that reports the generic model "Intel(R) Xeon(R) Processor" (model 207) on Sapphire Rapids
    /// silicon: AVX-512, BF16, AMX — which Debian's OpenBLAS reads as Prescott.
    static let genericVM = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm abm 3dnowprefetch cpuid_fault ssbd ibrs ibpb stibp ibrs_enhanced fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves avx_vnni avx512_bf16 wbnoinvd arat avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid bus_lock_detect cldemote movdiri movdir64b fsrm md_clear serialize tsxldtrk ibt amx_bf16 avx512_fp16 amx_tile amx_int8 flush_l1d arch_capabilities\n"
    /// An old SSE-only CPU.
    static let sse3 = "flags\t\t: fpu sse sse2 pni\n"

    static func set(_ cpuinfo: String) -> Set<String> { BLASCore.cpuFlags(cpuinfo: cpuinfo)! }
}

final class BLASCoreTests: XCTestCase {
    func testCPULevels() {
        XCTAssertEqual(BLASCore.level(ofCPU: CPUFlags.set(CPUFlags.cooperlake)), .avx512)
        XCTAssertEqual(BLASCore.level(ofCPU: CPUFlags.set(CPUFlags.zen3)), .avx2)
        XCTAssertEqual(BLASCore.level(ofCPU: CPUFlags.set(CPUFlags.zen4)), .avx512)
        XCTAssertEqual(BLASCore.level(ofCPU: CPUFlags.set(CPUFlags.zen5)), .avx512)
        XCTAssertEqual(BLASCore.level(ofCPU: CPUFlags.set(CPUFlags.haswell)), .avx2)
        XCTAssertEqual(BLASCore.level(ofCPU: CPUFlags.set(CPUFlags.genericVM)), .avx512)
        XCTAssertEqual(BLASCore.level(ofCPU: CPUFlags.set(CPUFlags.sse3)), .sse)
        // AVX-512F alone (Knights Landing without BW/VL) does not run SkylakeX's kernels
        XCTAssertEqual(BLASCore.level(ofCPU: ["avx", "avx2", "fma", "avx512f", "avx512cd"]), .avx2)
        XCTAssertNil(BLASCore.cpuFlags(cpuinfo: "no flags here"))
        XCTAssertNil(BLASCore.cpuFlags(cpuinfo: nil))
    }

    func testKernelLevels() {
        XCTAssertEqual(BLASCore.level(ofKernel: "Prescott"), .sse)
        XCTAssertEqual(BLASCore.level(ofKernel: "Sandybridge"), .avx)
        XCTAssertEqual(BLASCore.level(ofKernel: "Haswell"), .avx2)
        XCTAssertEqual(BLASCore.level(ofKernel: "Zen"), .avx2)
        XCTAssertEqual(BLASCore.level(ofKernel: "SkylakeX"), .avx512)
        XCTAssertEqual(BLASCore.level(ofKernel: "Cooperlake"), .avx512)
        XCTAssertEqual(BLASCore.level(ofKernel: "COOPERLAKE"), .avx512)
        XCTAssertNil(BLASCore.level(ofKernel: "RISCV64_GENERIC"))
        XCTAssertFalse(BLASCore.name.isEmpty)
    }

    /// The re-exec choice: a generic VM with AVX-512 that OpenBLAS read as Prescott, an AVX2 machine, a machine
    /// OpenBLAS already reads right, and an old CPU.
    func testSuggestedCoreType() {
        XCTAssertEqual(BLASCore.suggestedCoreType(cpuinfo: CPUFlags.genericVM, current: "Prescott"), "SkylakeX")
        XCTAssertNil(BLASCore.suggestedCoreType(cpuinfo: CPUFlags.genericVM, current: "SkylakeX"))
        XCTAssertNil(BLASCore.suggestedCoreType(cpuinfo: CPUFlags.zen5, current: "Haswell"), "OpenBLAS's own AVX-512 fallback is kept")
        XCTAssertEqual(BLASCore.suggestedCoreType(cpuinfo: CPUFlags.haswell, current: "Prescott"), "Haswell")
        XCTAssertEqual(BLASCore.suggestedCoreType(cpuinfo: CPUFlags.zen3, current: "Sandybridge"), "Haswell")
        XCTAssertNil(BLASCore.suggestedCoreType(cpuinfo: CPUFlags.sse3, current: "Prescott"))
        XCTAssertNil(BLASCore.suggestedCoreType(cpuinfo: "no flags here", current: "Prescott"))
    }

    /// The notice fires exactly when the kernels are narrower than the CPU, names the setting that chose them and
    /// its value, the kernels the CPU could run, and the `sam verify` check with the variables unset.
    func testNarrowKernelNotice() throws {
        let inherited = ["OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1048576"]
        // Zen 5 with Haswell inherited from the machine's environment: the case this notice exists for
        let zen5 = try XCTUnwrap(BLASCore.notice(flags: CPUFlags.set(CPUFlags.zen5), kernel: "Haswell", environment: inherited))
        XCTAssertTrue(zen5.hasPrefix("notice: OpenBLAS runs its Haswell kernels (AVX2) because OPENBLAS_CORETYPE=Haswell is set (with OPENBLAS_L2_SIZE=1048576)"), zen5)
        XCTAssertTrue(zen5.contains("this CPU supports AVX-512 (SkylakeX or Cooperlake kernels)"), zen5)
        XCTAssertTrue(zen5.contains("`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE sam verify --checkpoint C --dump REF.h5`"), zen5)
        XCTAssertFalse(zen5.contains("\n"), "one line")
        // Zen 4, Cooper Lake and the generic VM likewise
        for cpu in [CPUFlags.zen4, CPUFlags.cooperlake, CPUFlags.genericVM] {
            XCTAssertNotNil(BLASCore.notice(flags: CPUFlags.set(cpu), kernel: "Haswell", environment: inherited))
            XCTAssertNil(BLASCore.notice(flags: CPUFlags.set(cpu), kernel: "SkylakeX", environment: ["OPENBLAS_CORETYPE": "SkylakeX"]))
            XCTAssertNil(BLASCore.notice(flags: CPUFlags.set(cpu), kernel: "Cooperlake", environment: [:]))
        }
        // Haswell kernels on AVX2 CPUs are their best: no notice
        XCTAssertNil(BLASCore.notice(flags: CPUFlags.set(CPUFlags.zen3), kernel: "Haswell", environment: inherited))
        XCTAssertNil(BLASCore.notice(flags: CPUFlags.set(CPUFlags.haswell), kernel: "Zen", environment: [:]))
        // SSE kernels on an AVX2 CPU, chosen by the user
        let sse = try XCTUnwrap(BLASCore.notice(flags: CPUFlags.set(CPUFlags.haswell), kernel: "Prescott",
                                                environment: ["OPENBLAS_CORETYPE": "Prescott"]))
        XCTAssertTrue(sse.contains("runs its Prescott kernels (SSE) because OPENBLAS_CORETYPE=Prescott is set;"), sse)
        XCTAssertTrue(sse.contains("this CPU supports AVX2 (Haswell or Zen kernels)"), sse)
        // OpenBLAS's own choice kept with SAM_KEEP_BLAS_CORE=1 on the generic VM
        let kept = try XCTUnwrap(BLASCore.notice(flags: CPUFlags.set(CPUFlags.genericVM), kernel: "Prescott",
                                                 environment: ["SAM_KEEP_BLAS_CORE": "1"]))
        XCTAssertTrue(kept.contains("because SAM_KEEP_BLAS_CORE=1 keeps OpenBLAS's own choice"), kept)
        XCTAssertTrue(kept.contains("-u SAM_KEEP_BLAS_CORE sam verify"), kept)
        // OpenBLAS's own AVX2 choice on an AVX-512 CPU with nothing set: the check names the kernels to try
        let own = try XCTUnwrap(BLASCore.notice(flags: CPUFlags.set(CPUFlags.zen5), kernel: "Haswell", environment: [:]))
        XCTAssertTrue(own.contains("because OpenBLAS chose them for this CPU model"), own)
        XCTAssertTrue(own.contains("`OPENBLAS_CORETYPE=SkylakeX sam verify --checkpoint C --dump REF.h5`"), own)
        // an old CPU has nothing faster; an unknown kernel name says nothing
        XCTAssertNil(BLASCore.notice(flags: CPUFlags.set(CPUFlags.sse3), kernel: "Prescott", environment: [:]))
        XCTAssertNil(BLASCore.notice(flags: CPUFlags.set(CPUFlags.zen5), kernel: "ARMV8", environment: inherited))
    }
}
