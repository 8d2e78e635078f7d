// Interop check for Java SunPKCS11 (tests/interop/java.sh): with the token's keys, signs with SHA256withRSA,
// RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32) and SHA256withECDSA through the provider, and verifies each
// signature with the JDK's own providers against the key's certificate (and a tampered message fails).
// Usage: java -cp DIR TokenSign PKCS11-CONFIG PIN RSA-ALIAS EC-ALIAS
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.util.Collections;

public final class TokenSign {
  private static int failures = 0;

  public static void main(String[] args) throws Exception {
    Provider p11 = Security.getProvider("SunPKCS11").configure(args[0]);
    Security.addProvider(p11);
    KeyStore ks = KeyStore.getInstance("PKCS11", p11);
    ks.load(null, args[1].toCharArray());
    System.out.println("provider " + p11.getName() + ", aliases " + Collections.list(ks.aliases()));
    PSSParameterSpec pss = new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1);
    check(ks, p11, args[2], "SHA256withRSA", null);
    check(ks, p11, args[2], "RSASSA-PSS", pss);
    check(ks, p11, args[3], "SHA256withECDSA", null);
    if (failures != 0) {
      System.out.println(failures + " check(s) failed");
      System.exit(1);
    }
    System.out.println("all signatures verified");
  }

  private static void check(KeyStore ks, Provider p11, String alias, String alg, PSSParameterSpec spec)
      throws Exception {
    PrivateKey key = (PrivateKey) ks.getKey(alias, null);
    Certificate cert = ks.getCertificate(alias);
    if (key == null || cert == null) {
      System.out.println(alg + ": no key entry '" + alias + "'");
      failures++;
      return;
    }
    byte[] data = ("keyseal interop " + alg).getBytes(StandardCharsets.UTF_8);
    Signature signer = Signature.getInstance(alg, p11);
    if (spec != null) signer.setParameter(spec);
    signer.initSign(key);
    signer.update(data);
    byte[] sig = signer.sign();

    // Verified by the JDK's software providers, not by the token.
    Signature verifier = Signature.getInstance(alg);
    if (spec != null) verifier.setParameter(spec);
    verifier.initVerify(cert.getPublicKey());
    verifier.update(data);
    boolean ok = verifier.verify(sig);
    verifier.initVerify(cert.getPublicKey());
    verifier.update("tampered".getBytes(StandardCharsets.UTF_8));
    boolean tampered = verifier.verify(sig);
    System.out.println(alg + " with '" + alias + "' (" + verifier.getProvider().getName() + " verifies): "
        + (ok ? "valid" : "INVALID") + ", tampered message " + (tampered ? "ACCEPTED" : "rejected"));
    if (!ok || tampered) failures++;
  }
}
