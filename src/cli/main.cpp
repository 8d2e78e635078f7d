// Entry point of the `keyseal` tool: parses the command line, runs a command, and turns failures into
// "keyseal: <what failed>: CKR_NAME (meaning)" on stderr with exit status 1 (failed) or 2 (usage).
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/rv_text.h"

#include <iostream>
#include <span>

using namespace keyseal::cli;

int main(int argc, char** argv) {
  try {
    const Options o = parse_args(std::span<char*>(argv + 1, argc > 0 ? argc - 1 : 0));
    if (o.version) {
      std::cout << "keyseal " KEYSEAL_VERSION "\n";
      return kExitOk;
    }
    if (o.help) {
      std::cout << usage_text(o.command);
      return kExitOk;
    }
    switch (o.command) {
      case Command::init: return run_init(o, std::cout);
      case Command::list: return run_list(o, std::cout);
      case Command::status: return run_status(o, std::cout);
      case Command::import_key: return run_import(o, std::cout);
      case Command::import_cert: return run_import_cert(o, std::cout);
      case Command::export_key: return run_export(o, std::cout);
      case Command::fingerprint: return run_fingerprint(o, std::cout);
      case Command::recover: return run_recover(o, std::cout);
      case Command::bind_tpm: return run_bind_tpm(o, std::cout);
#ifdef KEYSEAL_HAVE_ATTEST
      case Command::attest: return run_attest(o, std::cout);
      case Command::attest_ak: return run_attest_ak(o, std::cout);
#else
      case Command::attest:
      case Command::attest_ak:
        throw Failure(std::string(command_name(o.command)) + ": TPM key attestation is not available on this platform yet");
#endif
#ifdef KEYSEAL_HAVE_ATTEST_VERIFY
      case Command::verify_attestation: return run_verify_attestation(o, std::cout);
      case Command::make_credential: return run_make_credential(o, std::cout);
#else
      case Command::verify_attestation:
      case Command::make_credential:
        throw Failure(std::string(command_name(o.command)) + ": the attestation verifier is not built on this platform");
#endif
      default: throw UsageError("no command given");
    }
  } catch (const UsageError& e) {
    std::cout.flush();
    std::cerr << "keyseal: " << e.what() << "\nTry 'keyseal --help'.\n";
    return kExitUsage;
  } catch (const keyseal::Error& e) {
    std::cout.flush();
    std::cerr << "keyseal: " << e.detail << ": " << rv_text(e.rv) << "\n";
    return kExitFailed;
  } catch (const std::exception& e) {  // Failure and anything unexpected (bad_alloc)
    std::cout.flush();
    std::cerr << "keyseal: " << e.what() << "\n";
    return kExitFailed;
  }
}
