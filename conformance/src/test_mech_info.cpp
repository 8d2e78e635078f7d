// Section 5.5 C_GetMechanismInfo checked by use: for every mechanism C_GetMechanismList reports that the suite
// knows, each function flag set must work with a suitable key, and encrypt/decrypt/sign/verify/digest flags that
// are not set must be refused. Mechanisms the suite does not know are listed as not exercised.
#include "harness.h"
#include "keys.h"
#include "ops.h"
#include "ossl.h"

#include <functional>
#include <iostream>

namespace keyseal::conformance {
namespace {

enum class KeyKind { None, Rsa, Ec, Ed, Aes, Generic };

struct Known {
  CK_MECHANISM_TYPE type;
  KeyKind kind;
  std::function<Mech()> mech;
};

Mech plain(CK_MECHANISM_TYPE t) { return Mech(t); }

const std::vector<Known>& known() {
  static const std::vector<Known> k = [] {
    std::vector<Known> v;
    auto add = [&](CK_MECHANISM_TYPE t, KeyKind kind, std::function<Mech()> m = nullptr) {
      v.push_back({t, kind, m ? m : [t] { return plain(t); }});
    };
    for (auto t : {CKM_RSA_PKCS, CKM_RSA_X_509, CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS, CKM_SHA256_RSA_PKCS,
                   CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS})
      add(t, KeyKind::Rsa);
    add(CKM_RSA_PKCS_PSS, KeyKind::Rsa, [] { return pss(CKM_RSA_PKCS_PSS, CKM_SHA256, 32); });
    for (auto [t, d] : std::vector<std::pair<CK_MECHANISM_TYPE, CK_MECHANISM_TYPE>>{
             {CKM_SHA1_RSA_PKCS_PSS, CKM_SHA_1}, {CKM_SHA224_RSA_PKCS_PSS, CKM_SHA224},
             {CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256}, {CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384},
             {CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512}})
      add(t, KeyKind::Rsa, [t, d] { return pss(t, d, digest_len(d)); });
    add(CKM_RSA_PKCS_OAEP, KeyKind::Rsa, [] { return oaep(CKM_SHA_1, {}); });
    for (auto t : {CKM_ECDSA, CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_ECDSA_SHA512})
      add(t, KeyKind::Ec);
    add(CKM_ECDH1_DERIVE, KeyKind::Ec);
    add(CKM_AES_ECB, KeyKind::Aes);
    add(CKM_AES_KEY_WRAP, KeyKind::Aes);
    add(CKM_AES_KEY_WRAP_PAD, KeyKind::Aes);
    add(CKM_EDDSA, KeyKind::Ed);
    add(CKM_EC_EDWARDS_KEY_PAIR_GEN, KeyKind::None);
    add(CKM_AES_CMAC, KeyKind::Aes);
    add(CKM_AES_CBC, KeyKind::Aes, [] { return Mech(CKM_AES_CBC, Bytes(16, 7)); });
    add(CKM_AES_CBC_PAD, KeyKind::Aes, [] { return Mech(CKM_AES_CBC_PAD, Bytes(16, 7)); });
    add(CKM_AES_CTR, KeyKind::Aes, [] {
      CK_AES_CTR_PARAMS p{};
      p.counter_bits = 32;
      return Mech(CKM_AES_CTR, p);
    });
    add(CKM_AES_GCM, KeyKind::Aes, [] {
      static Bytes iv(12, 9);
      CK_GCM_PARAMS p{};
      p.iv_ptr = iv.data();
      p.iv_len = iv.size();
      p.iv_bits = 96;
      p.tag_bits = 128;
      return Mech(CKM_AES_GCM, p);
    });
    for (auto t : {CKM_SHA_1_HMAC, CKM_SHA224_HMAC, CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA512_HMAC, CKM_MD5_HMAC})
      add(t, KeyKind::Generic);
    for (auto t : {CKM_MD5, CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512}) add(t, KeyKind::None);
    for (auto t : {CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN, CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_EC_KEY_PAIR_GEN})
      add(t, KeyKind::None);
    return v;
  }();
  return k;
}

class MechanismInfo : public P11Test {
 protected:
  // The key pair / secret for a kind (public half in pub; for secrets pub == priv).
  bool key_for(KeyKind kind, CK_MECHANISM_INFO info, CK_OBJECT_HANDLE& pub, CK_OBJECT_HANDLE& priv) {
    switch (kind) {
      case KeyKind::Rsa: {
        if (!has_mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN)) return false;
        auto kp = rsa_key_pair();
        pub = kp.pub, priv = kp.priv;
        return kp.rv == CKR_OK;
      }
      case KeyKind::Ec: {
        if (!has_mechanism(CKM_EC_KEY_PAIR_GEN)) return false;
        auto kp = ec_key_pair(curves()[0]);
        pub = kp.pub, priv = kp.priv;
        return kp.rv == CKR_OK;
      }
      case KeyKind::Ed: {
        if (!has_mechanism(CKM_EC_EDWARDS_KEY_PAIR_GEN)) return false;
        CK_MECHANISM gen{CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
        Template pt, vt;
        pt.add(CKA_TOKEN, false).add(CKA_EC_PARAMS, unhex("06032b6570")).add(CKA_VERIFY, true);
        vt.add(CKA_TOKEN, false).add(CKA_PRIVATE, true).add(CKA_SIGN, true);
        return p11()->C_GenerateKeyPair(session_, &gen, pt.data(), pt.size(), vt.data(), vt.size(), &pub, &priv) ==
               CKR_OK;
      }
      case KeyKind::Aes: {
        CK_ULONG len = info.ulMinKeySize <= 16 && info.ulMaxKeySize >= 16 ? 16 : 32;
        auto k = import_secret(session_, CKK_AES, Bytes(len, 0x21), Template().add(CKA_EXTRACTABLE, true));
        pub = priv = k.h;
        return k.rv == CKR_OK;
      }
      case KeyKind::Generic: {
        CK_ULONG len = std::max<CK_ULONG>(info.ulMinKeySize, 32);
        auto k = import_secret(session_, CKK_GENERIC_SECRET, Bytes(len, 0x22));
        pub = priv = k.h;
        return k.rv == CKR_OK;
      }
      case KeyKind::None: return true;
    }
    return false;
  }

  // Starts (and abandons, by closing the session) one operation; returns the init's CK_RV.
  CK_RV probe(CK_FLAGS flag, const Known& k, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv) {
    Session s(true);
    Mech m = k.mech();
    switch (flag) {
      case CKF_ENCRYPT: return p11()->C_EncryptInit(s, m.ptr(), pub);
      case CKF_DECRYPT: return p11()->C_DecryptInit(s, m.ptr(), priv);
      case CKF_SIGN: return p11()->C_SignInit(s, m.ptr(), priv);
      case CKF_VERIFY: return p11()->C_VerifyInit(s, m.ptr(), pub);
      case CKF_DIGEST: return p11()->C_DigestInit(s, m.ptr());
      case CKF_WRAP: {
        auto target = import_secret(s, CKK_AES, Bytes(16, 0x23), Template().add(CKA_EXTRACTABLE, true));
        if (target.rv != CKR_OK) return target.rv;
        CK_ULONG len = 0;
        return p11()->C_WrapKey(s, m.ptr(), pub, target.h, nullptr, &len);
      }
      case CKF_GENERATE: {
        Template t;
        t.add(CKA_TOKEN, false).add_ulong(CKA_VALUE_LEN, k.type == CKM_AES_KEY_GEN ? 16 : 32);
        CK_OBJECT_HANDLE h;
        return p11()->C_GenerateKey(s, m.ptr(), t.data(), t.size(), &h);
      }
      case CKF_GENERATE_KEY_PAIR: {
        if (k.type == CKM_RSA_PKCS_KEY_PAIR_GEN) return rsa_key_pair().rv;
        if (k.type == CKM_EC_KEY_PAIR_GEN) return generate_ec(s, curves()[0].params).rv;
        Template pt, vt;
        pt.add(CKA_TOKEN, false).add(CKA_EC_PARAMS, unhex("06032b6570"));
        vt.add(CKA_TOKEN, false).add(CKA_PRIVATE, true);
        CK_OBJECT_HANDLE a, b;
        return p11()->C_GenerateKeyPair(s, m.ptr(), pt.data(), pt.size(), vt.data(), vt.size(), &a, &b);
      }
      case CKF_DERIVE: {
        ossl::EcPeer peer;
        if (!ossl::ec_peer_generate(curves()[0].openssl_nid, peer)) return CKR_GENERAL_ERROR;
        CK_ECDH1_DERIVE_PARAMS p{};
        p.kdf = CKD_NULL;
        p.public_data = peer.public_point.data();
        p.public_data_len = peer.public_point.size();
        Mech dm(CKM_ECDH1_DERIVE, p);
        Template t;
        t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET).add(CKA_TOKEN, false);
        t.add_ulong(CKA_VALUE_LEN, 32);
        CK_OBJECT_HANDLE h;
        return p11()->C_DeriveKey(s, dm.ptr(), priv, t.data(), t.size(), &h);
      }
      default: return CKR_OK;
    }
  }
};

TEST_F(MechanismInfo, EveryListedMechanismDoesWhatItsFlagsSay) {
  const std::pair<CK_FLAGS, const char*> flags[] = {
      {CKF_ENCRYPT, "CKF_ENCRYPT"}, {CKF_DECRYPT, "CKF_DECRYPT"}, {CKF_SIGN, "CKF_SIGN"},
      {CKF_VERIFY, "CKF_VERIFY"},   {CKF_DIGEST, "CKF_DIGEST"},   {CKF_WRAP, "CKF_WRAP"},
      {CKF_GENERATE, "CKF_GENERATE"}, {CKF_GENERATE_KEY_PAIR, "CKF_GENERATE_KEY_PAIR"}, {CKF_DERIVE, "CKF_DERIVE"}};
  const CK_FLAGS refusable = CKF_ENCRYPT | CKF_DECRYPT | CKF_SIGN | CKF_VERIFY | CKF_DIGEST;
  std::string unexercised;
  int exercised = 0;
  for (auto type : mechanism_list()) {
    auto it = std::find_if(known().begin(), known().end(), [&](auto& k) { return k.type == type; });
    if (it == known().end()) {
      unexercised += " " + mech_name(type);
      continue;
    }
    CK_MECHANISM_INFO info;
    ASSERT_OK(p11()->C_GetMechanismInfo(slot(), type, &info));
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
    if (!key_for(it->kind, info, pub, priv)) {
      ADD_FAILURE() << mech_name(type) << ": no key of the kind it needs could be made";
      continue;
    }
    for (auto [flag, name] : flags) {
      bool claimed = info.flags & flag;
      if (!claimed && !(flag & refusable)) continue;
      if (!claimed && it->kind == KeyKind::None && flag != CKF_DIGEST) continue;
      if (!claimed && flag == CKF_DIGEST && it->kind != KeyKind::None) continue;
      CK_RV rv = probe(flag, *it, pub, priv);
      if (claimed) {
        EXPECT_OK(rv) << mech_name(type) << " claims " << name << " (flags 0x" << std::hex << info.flags << std::dec << ")";
      } else {
        EXPECT_NE(rv, CKR_OK) << mech_name(type) << " does not claim " << name << " but the operation started";
      }
    }
    ++exercised;
  }
  RecordProperty("not_exercised", unexercised);
  std::cout << "[ info     ] mechanisms exercised: " << exercised << "; listed but unknown to the suite:"
            << (unexercised.empty() ? " none" : unexercised) << "\n";
  EXPECT_GT(exercised, 0);
}

}  // namespace
}  // namespace keyseal::conformance
