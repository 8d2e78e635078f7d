// Store edits against a TPM token's records (issue 11), with core::Token over the real TpmBackend on swtpm:
// the victim's TPM key pair replaced in the file by a key the attacker imported into the same TPM under the
// same storage parent (its authValue stored unsealed, as an attacker who knows it would), and a sensitive
// AES key replaced by a known one. Both must be refused, never used.
#include "core/backend_attributes.h"
#include "core/token.h"
#include "store/attribute_codec.h"
#include "tpm_test_util.h"

#include <cstdlib>

namespace keyseal::tpm::testing {
namespace {

constexpr std::string_view kSo = "so-pin-1234", kUser = "user-pin-1234";

class TpmRecordAttack : public SwtpmTest {
 protected:
  void SetUp() override {
    SwtpmTest::SetUp();
    char tmpl[] = "/tmp/keyseal-tpm-attack-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    file_ = dir_ / "token-0.db";
    const std::string label(32, ' ');
    token_ = core::Token::create(0, file_, backend_, config_, view(kSo), view(label));
    token_->login(CKU_SO, view(kSo));
    token_->init_pin(view(kUser));
    token_->logout();
    token_->login(CKU_USER, view(kUser));
  }
  void TearDown() override {
    token_.reset();
    std::filesystem::remove_all(dir_);
    SwtpmTest::TearDown();
  }

  void store(core::AttributeMap a, const std::string& label) {
    core::set_bool(a, CKA_TOKEN, true);
    core::set_bool(a, CKA_PRIVATE, true);
    core::set_bytes(a, CKA_LABEL, view(label));
    token_->add_object(std::move(a), 0);
  }

  // Replaces, in the file, attributes of the record labelled `label` (value, and whether stored sealed).
  void overwrite(const std::string& label, const std::vector<store::StoredAttribute>& with) {
    auto db = store::TokenDb::open(file_, store::OpenMode::existing);
    store::ObjectQuery q;
    q.label = label;
    q.include_private = true;
    auto row = db->find_objects(q).at(0);
    auto attrs = store::decode_attributes(view(row.attrs));
    for (const auto& w : with) {
      std::erase_if(attrs, [&](const auto& a) { return a.type == w.type; });
      attrs.push_back(w);
    }
    row.attrs = store::encode_attributes(attrs);
    db->update_object(row);
  }

  std::vector<CK_OBJECT_HANDLE> reopen_and_find(const std::string& label) {
    token_.reset();
    token_ = core::Token::open(0, file_, backend_, config_);
    token_->login(CKU_USER, view(kUser));
    core::AttributeMap t;
    core::set_bytes(t, CKA_LABEL, view(label));
    return token_->find(t, true);
  }

  std::filesystem::path dir_, file_;
  core::Config config_;
  std::shared_ptr<core::Token> token_;
};

TEST_F(TpmRecordAttack, KeyImportedUnderTheSameParentIsNotUsedForTheVictim) {
  KeyPair victim = gen_ec(*backend_, crypto::Curve::p256);
  store(victim.priv, "victim");
  // The attacker's own key, imported into this TPM under the same storage parent: its blobs and its
  // authValue (in the clear in the map) are what the attacker writes into the victim's record.
  core::AttributeMap evil;
  core::set_ulong(evil, CKA_CLASS, CKO_PRIVATE_KEY);
  core::set_ulong(evil, CKA_KEY_TYPE, CKK_EC);
  core::set_bytes(evil, CKA_EC_PARAMS, view(crypto::ec_params_der(crypto::Curve::p256)));
  core::set_bytes(evil, CKA_VALUE, view(SecureBytes(32, 0x07)));
  backend_->import_key(evil);
  std::vector<store::StoredAttribute> swap;
  for (const auto& [type, value] : evil)
    if (core::is_backend_attr(type) || type == CKA_EC_POINT) swap.push_back({type, false, value});
  ASSERT_FALSE(swap.empty());
  overwrite("victim", swap);
  auto found = reopen_and_find("victim");
  for (CK_OBJECT_HANDLE h : found) {
    core::ObjectPtr o = token_->object(h, true);
    const SecureBytes data = bytes("signed for the victim");
    KeyPair as_found{o->attrs, o->attrs, std::const_pointer_cast<core::Object>(o)};
    EXPECT_THROW(sign(*backend_, as_found, mech(CKM_ECDSA_SHA256), view(data)), Error);
  }
  EXPECT_TRUE(found.empty()) << "the record with the attacker's key was accepted";
}

TEST_F(TpmRecordAttack, SensitiveAesKeyReplacedByAKnownOneIsRefused) {
  MechanismParams m;
  m.type = CKM_AES_KEY_GEN;
  core::AttributeMap aes;
  core::set_ulong(aes, CKA_CLASS, CKO_SECRET_KEY);
  core::set_ulong(aes, CKA_KEY_TYPE, CKK_AES);
  core::set_ulong(aes, CKA_VALUE_LEN, 32);
  core::set_bool(aes, CKA_SENSITIVE, true);
  core::set_bool(aes, CKA_EXTRACTABLE, false);
  backend_->generate_key(m, aes);
  store(aes, "aes");
  overwrite("aes", {{CKA_VALUE, false, SecureBytes(32, 0x41)}});
  EXPECT_TRUE(reopen_and_find("aes").empty());
}

// A key's CKA_UNWRAP_TEMPLATE (issue 13) loosened in the file to the empty template, which would let keys it
// unwraps be made extractable: the record's tag no longer verifies, so the key is not offered at all.
TEST_F(TpmRecordAttack, AnUnwrapTemplateLoosenedInTheFileIsRefused) {
  MechanismParams m;
  m.type = CKM_AES_KEY_GEN;
  core::AttributeMap aes;
  core::set_ulong(aes, CKA_CLASS, CKO_SECRET_KEY);
  core::set_ulong(aes, CKA_KEY_TYPE, CKK_AES);
  core::set_ulong(aes, CKA_VALUE_LEN, 32);
  core::set_bool(aes, CKA_UNWRAP, true);
  core::AttributeTemplate nested;
  nested.emplace_back(CKA_EXTRACTABLE, SecureBytes{CK_FALSE});
  core::set_bytes(aes, CKA_UNWRAP_TEMPLATE, view(core::encode_template_value(nested)));
  backend_->generate_key(m, aes);
  store(aes, "unwrapper");
  ASSERT_EQ(reopen_and_find("unwrapper").size(), 1u) << "untouched, the key is there";
  overwrite("unwrapper", {{CKA_UNWRAP_TEMPLATE, false, SecureBytes()}});
  EXPECT_TRUE(reopen_and_find("unwrapper").empty());
}

// The creation hash and ticket that TPM2_CertifyCreation uses (issue 14) swapped for another key's: refused like
// any other edit, so an attestation never speaks for a record someone rewrote.
TEST_F(TpmRecordAttack, CreationEvidenceOfAnotherKeyIsRefused) {
  KeyPair victim = gen_ec(*backend_, crypto::Curve::p256);
  KeyPair other = gen_ec(*backend_, crypto::Curve::p256);
  store(victim.priv, "victim");
  std::vector<store::StoredAttribute> swap;
  for (CK_ATTRIBUTE_TYPE t : {core::backend_attr(4), core::backend_attr(5)}) {
    ASSERT_TRUE(other.priv.count(t)) << "generated keys keep their creation evidence";
    swap.push_back({t, false, other.priv.at(t)});
  }
  overwrite("victim", swap);
  EXPECT_TRUE(reopen_and_find("victim").empty());
}

}  // namespace
}  // namespace keyseal::tpm::testing
