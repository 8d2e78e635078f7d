// swtpm process control for the TPM backend tests (fork/exec, readiness by the control port, kill/restart).
#include "swtpm_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <tss2/tss2_esys.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace keyseal::tpm::testing {

namespace {

int bind_port(int port) {  // returns the bound port or -1
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  int got = -1;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    socklen_t len = sizeof a;
    if (::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) got = ntohs(a.sin_port);
  }
  ::close(s);
  return got;
}

bool can_connect(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

}  // namespace

Swtpm::Swtpm() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "keyseal-swtpm-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
}

Swtpm::~Swtpm() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string Swtpm::tcti() const { return "swtpm:host=127.0.0.1,port=" + std::to_string(port_); }

void Swtpm::start() {
  if (pid_ > 0) return;
  // A restart reuses the port pair; a first start picks one. If swtpm cannot bind it (another process took a
  // port between our probe and its bind), it exits and a fresh pair is tried.
  const bool fixed_port = port_ != 0;
  std::string last_error;
  for (int attempt = 0; attempt < (fixed_port ? 1 : 5); ++attempt) {
    if (!fixed_port) port_ = 0;
    for (int i = 0; port_ == 0 && i < 100; ++i) {
      const int p = bind_port(0);
      if (p > 0 && p < 65535 && bind_port(p + 1) == p + 1) port_ = p;
    }
    if (port_ == 0) throw std::runtime_error("no free loopback port pair");
    if (launch(last_error)) return;
  }
  throw std::runtime_error(last_error);
}

bool Swtpm::launch(std::string& why) {
  const std::string state = "dir=" + dir_.string();
  const std::string server = "type=tcp,port=" + std::to_string(port_) + ",bindaddr=127.0.0.1";
  const std::string ctrl = "type=tcp,port=" + std::to_string(port_ + 1) + ",bindaddr=127.0.0.1";
  const std::string log = "file=" + (dir_ / "swtpm.log").string();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Dies with the test process (no orphan holding the test's pipes or ports) and keeps quiet.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) ::dup2(null, 0), ::dup2(null, 1), ::dup2(null, 2);
    const char* argv[] = {"swtpm", "socket", "--tpm2", "--tpmstate", state.c_str(), "--server", server.c_str(),
                          "--ctrl", ctrl.c_str(), "--flags", "not-need-init,startup-clear", "--log", log.c_str(),
                          nullptr};
    ::execvp("swtpm", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  auto exited = [&](std::string& msg) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    pid_ = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
      throw std::runtime_error("swtpm is not installed (Debian package swtpm): TPM tests cannot run");
    msg = "swtpm exited at start on port " + std::to_string(port_) + "; see " + (dir_ / "swtpm.log").string();
    return true;
  };
  for (int i = 0; i < 200; ++i) {
    if (exited(why)) return false;
    // swtpm listens on the control port before the command port, so the command port is the one that says
    // both are up. A connection that closes at once is harmless: swtpm reads end-of-file and accepts the next.
    // The process must still be ours and alive afterwards: a port answered by somebody else does not count.
    if (can_connect(port_ + 1) && can_connect(port_)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (exited(why)) return false;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  kill();
  why = "swtpm did not come up on port " + std::to_string(port_);
  return false;
}

void Swtpm::provision_ek_certs() {
  const std::filesystem::path ca = dir_ / "localca";
  std::filesystem::create_directories(ca);
  auto write = [](const std::filesystem::path& p, const std::string& text) {
    std::ofstream f(p);
    f << text;
    if (!f) throw std::runtime_error("cannot write " + p.string());
  };
  write(ca / "localca.conf", "statedir = " + ca.string() + "\nsigningkey = " + (ca / "signkey.pem").string() +
                                 "\nissuercert = " + (ca / "issuercert.pem").string() +
                                 "\ncertserial = " + (ca / "certserial").string() + "\n");
  write(ca / "localca.options", "--platform-manufacturer keyseal-test\n--platform-version 2.1\n--platform-model swtpm\n");
  write(ca / "setup.conf", "create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = " +
                               (ca / "localca.conf").string() + "\ncreate_certs_tool_options = " +
                               (ca / "localca.options").string() + "\nactive_pcr_banks = sha256\n");
  const std::string state = dir_.string(), conf = (ca / "setup.conf").string(), log = (ca / "setup.log").string();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int null = ::open("/dev/null", O_RDWR);
    if (null >= 0) ::dup2(null, 0), ::dup2(null, 1), ::dup2(null, 2);
    const char* argv[] = {"swtpm_setup", "--tpm2", "--tpmstate", state.c_str(), "--create-ek-cert",
                          "--create-platform-cert", "--config", conf.c_str(), "--logfile", log.c_str(), nullptr};
    ::execvp("swtpm_setup", const_cast<char* const*>(argv));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(WIFEXITED(status) && WEXITSTATUS(status) == 127
                                 ? "swtpm_setup is not installed (Debian package swtpm-tools)"
                                 : "swtpm_setup failed; see " + log);
  std::ifstream issuer(ca / "issuercert.pem"), root(ca / "swtpm-localca-rootca-cert.pem");
  std::ofstream both(ek_ca_pem());
  both << issuer.rdbuf() << root.rdbuf();
  if (!issuer || !root || !both) throw std::runtime_error("swtpm-localca did not leave its CA certificates");
}

void Swtpm::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill();
}

void Swtpm::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

CK_RV rv_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.rv;
  }
  return CKR_OK;
}

void SwtpmTest::SetUp() {
  try {
    swtpm_.start();
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  backend_ = connect();
  ASSERT_TRUE(backend_);
  // Wrong-PIN tests must not lock the TPM for the following ones: generous tries, fast recovery.
  set_dictionary_attack(32, 1, 1);
}

void SwtpmTest::TearDown() {
  backend_.reset();
  swtpm_.stop();
}

std::shared_ptr<TpmBackend> SwtpmTest::connect(const std::string& pcrs) {
  std::string why;
  auto b = connect_backend(Options{swtpm_.tcti(), pcrs}, why);
  EXPECT_TRUE(b) << why;
  return std::dynamic_pointer_cast<TpmBackend>(b);
}

void SwtpmTest::set_dictionary_attack(uint32_t max_tries, uint32_t recovery_s, uint32_t lockout_recovery_s) {
  backend_->with_esys([&](ESYS_CONTEXT* ctx) {
    const TSS2_RC rc = Esys_DictionaryAttackParameters(ctx, ESYS_TR_RH_LOCKOUT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                       ESYS_TR_NONE, max_tries, recovery_s, lockout_recovery_s);
    ASSERT_EQ(rc, TSS2_RC_SUCCESS) << "TPM2_DictionaryAttackParameters";
  });
}

std::unique_ptr<store::TokenDb> SwtpmTest::new_db(const std::string& name) {
  auto db = store::TokenDb::open(swtpm_.dir() / (name + ".db"), store::OpenMode::create_new);
  db->set_meta("uid", view(std::string("0123456789abcdef0123456789abcdef")));
  return db;
}

}  // namespace keyseal::tpm::testing
