/* provider_fork_sign URI PUBKEY.pem: loads the private key URI through OSSL_STORE (with whatever providers
 * OPENSSL_CONF loads, e.g. pkcs11-provider), signs once in this process, then forks: the child signs with the
 * same key object and exits 0 only if its signature verifies against PUBKEY.pem; the parent signs again after
 * the child ended. The fork rule of PKCS#11 (a child must not use the parent's session state) is the
 * provider's and the module's to honour. Exit 0 when all three signatures verify. */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/store.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int sign_and_verify(EVP_PKEY *key, EVP_PKEY *pub, const char *who) {
  static const unsigned char msg[] = "keyseal fork test";
  unsigned char sig[1024];
  size_t siglen = sizeof sig;
  int ok = 0;
  EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
  if (s && v && EVP_DigestSignInit(s, NULL, EVP_sha256(), NULL, key) == 1 &&
      EVP_DigestSign(s, sig, &siglen, msg, sizeof msg - 1) == 1 &&
      EVP_DigestVerifyInit(v, NULL, EVP_sha256(), NULL, pub) == 1 &&
      EVP_DigestVerify(v, sig, siglen, msg, sizeof msg - 1) == 1)
    ok = 1;
  printf("%s: signature %s\n", who, ok ? "verified" : "FAILED");
  if (!ok) ERR_print_errors_fp(stdout);
  EVP_MD_CTX_free(s);
  EVP_MD_CTX_free(v);
  return ok;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PRIVATE-KEY-URI PUBKEY.pem\n", argv[0]);
    return 2;
  }
  EVP_PKEY *key = NULL, *pub = NULL;
  OSSL_STORE_CTX *st = OSSL_STORE_open(argv[1], NULL, NULL, NULL, NULL);
  while (st && !key && !OSSL_STORE_eof(st)) {
    OSSL_STORE_INFO *i = OSSL_STORE_load(st);
    if (i && OSSL_STORE_INFO_get_type(i) == OSSL_STORE_INFO_PKEY) key = OSSL_STORE_INFO_get1_PKEY(i);
    OSSL_STORE_INFO_free(i);
  }
  OSSL_STORE_close(st);
  FILE *f = fopen(argv[2], "r");
  if (f) {
    pub = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
  }
  if (!key || !pub) {
    printf("could not load %s\n", key ? argv[2] : argv[1]);
    ERR_print_errors_fp(stdout);
    return 1;
  }
  if (!sign_and_verify(key, pub, "parent before fork")) return 1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) _exit(sign_and_verify(key, pub, "child") ? 0 : 1);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    printf("child failed (status %d)\n", status);
    return 1;
  }
  if (!sign_and_verify(key, pub, "parent after fork")) return 1;
  EVP_PKEY_free(key);
  EVP_PKEY_free(pub);
  return 0;
}
