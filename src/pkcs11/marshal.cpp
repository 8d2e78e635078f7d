// Argument marshalling for the C ABI (see marshal.h).
#include "pkcs11/marshal.h"

#include "core/attribute_policy.h"
#include "core/mechanisms.h"

#include <cstring>

namespace keyseal::pkcs11 {
namespace {

constexpr CK_ULONG kMaxAttribute = 64u << 20;  // no real attribute is larger than 64 MiB
constexpr CK_ULONG kMaxNested = 256;            // attributes in one CKA_WRAP_TEMPLATE-like value

// The CK_GCM_PARAMS layout of PKCS#11 2.40 before its errata (no ulIvBits), still used by some callers. Declared
// in keyseal/pkcs11.h so that it is packed like CK_GCM_PARAMS on Windows (unpacked, its 32 bytes there would
// equal the packed CK_GCM_PARAMS and the two could not be told apart by size).
using GcmParamsNoIvBits = KS_CK_GCM_PARAMS_NO_IV_BITS;

CK_MECHANISM_TYPE hash_of(CK_MECHANISM_TYPE h) {
  switch (h) {
    case CKM_SHA_1: case CKM_SHA224: case CKM_SHA256: case CKM_SHA384: case CKM_SHA512: return h;
    default: fail(CKR_MECHANISM_PARAM_INVALID, "unsupported hash in mechanism parameter");
  }
}

CK_MECHANISM_TYPE mgf_hash(CK_ULONG mgf) {
  switch (mgf) {
    case CKG_MGF1_SHA1: return CKM_SHA_1;
    case CKG_MGF1_SHA224: return CKM_SHA224;
    case CKG_MGF1_SHA256: return CKM_SHA256;
    case CKG_MGF1_SHA384: return CKM_SHA384;
    case CKG_MGF1_SHA512: return CKM_SHA512;
    default: fail(CKR_MECHANISM_PARAM_INVALID, "unsupported MGF in mechanism parameter");
  }
}

// The digest of the X9.63 KDF a CKD_* value names (current mechanisms 2.3.8); 0 for CKD_NULL. The
// CKD_SHA1_KDF_ASN1 / _CONCATENATE forms belong to X9.42 DH and are not offered.
CK_MECHANISM_TYPE x963_hash(CK_ULONG kdf) {
  switch (kdf) {
    case CKD_NULL: return 0;
    case CKD_SHA1_KDF: return CKM_SHA_1;
    case CKD_SHA224_KDF: return CKM_SHA224;
    case CKD_SHA256_KDF: return CKM_SHA256;
    case CKD_SHA384_KDF: return CKM_SHA384;
    case CKD_SHA512_KDF: return CKM_SHA512;
    default: fail(CKR_MECHANISM_PARAM_INVALID, "unsupported KDF for ECDH");
  }
}

template <class T>
const T& param_as(const CK_MECHANISM* m) {
  require(m->pParameter != nullptr && m->ulParameterLen == sizeof(T), CKR_MECHANISM_PARAM_INVALID,
          "mechanism parameter missing or of the wrong size");
  return *static_cast<const T*>(m->pParameter);
}

SecureBytes param_bytes(const void* p, CK_ULONG len) {
  if (len == 0) return {};
  require(p != nullptr && len <= kMaxAttribute, CKR_MECHANISM_PARAM_INVALID, "mechanism parameter data missing");
  return to_bytes(p, len);
}

}  // namespace

ByteView input(const void* p, CK_ULONG len) {
  if (len == 0) return {};
  require(p != nullptr, CKR_ARGUMENTS_BAD, "NULL input with a non-zero length");
  return ByteView(static_cast<const uint8_t*>(p), len);
}

// The value of CKA_WRAP_TEMPLATE and friends: pValue holds ulValueLen / sizeof(CK_ATTRIBUTE) nested attributes
// (CKF_ARRAY_ATTRIBUTE, base spec 4.1), each with its own pointer. Every length is checked before a byte is read;
// what is copied becomes the canonical encoding core keeps (core::encode_template_value). A ragged length, a
// nested value without a pointer or too large, or a nested template -> CKR_ATTRIBUTE_VALUE_INVALID.
static SecureBytes read_nested_template(const void* p, CK_ULONG len) {
  if (len == 0) return {};
  require(len % sizeof(CK_ATTRIBUTE) == 0, CKR_ATTRIBUTE_VALUE_INVALID,
          "template attribute length is not a multiple of sizeof(CK_ATTRIBUTE)");
  const CK_ULONG n = len / sizeof(CK_ATTRIBUTE);
  require(n <= kMaxNested, CKR_ATTRIBUTE_VALUE_INVALID, "template attribute holds too many attributes");
  Template nested;
  nested.reserve(n);
  CK_ULONG total = 0;
  for (CK_ULONG i = 0; i < n; ++i) {
    CK_ATTRIBUTE a;  // copied out: the caller's array need not be aligned (packed on Windows)
    std::memcpy(&a, static_cast<const uint8_t*>(p) + i * sizeof(CK_ATTRIBUTE), sizeof a);
    require(a.ulValueLen == 0 || (a.pValue != nullptr && a.ulValueLen <= kMaxAttribute - total),
            CKR_ATTRIBUTE_VALUE_INVALID, "nested attribute value missing or too large");
    total += a.ulValueLen;
    nested.emplace_back(a.type, a.ulValueLen ? to_bytes(a.pValue, a.ulValueLen) : SecureBytes());
  }
  return core::encode_template_value(nested);
}

Template read_template(const CK_ATTRIBUTE* t, CK_ULONG n) {
  require(t != nullptr || n == 0, CKR_ARGUMENTS_BAD, "NULL template with a non-zero count");
  Template out;
  out.reserve(n);
  for (CK_ULONG i = 0; i < n; ++i) {
    const CK_ULONG len = t[i].ulValueLen;
    require(len == 0 || (t[i].pValue != nullptr && len <= kMaxAttribute), CKR_ATTRIBUTE_VALUE_INVALID,
            "attribute value missing or too large");
    if (core::is_template_attribute(t[i].type)) {
      out.emplace_back(t[i].type, read_nested_template(t[i].pValue, len));
      continue;
    }
    out.emplace_back(t[i].type, len ? to_bytes(t[i].pValue, len) : SecureBytes());
  }
  return out;
}

core::AttributeMap read_map(const CK_ATTRIBUTE* t, CK_ULONG n) { return core::to_map(read_template(t, n)); }

MechanismParams read_mechanism(const CK_MECHANISM* m) {
  require(m != nullptr, CKR_ARGUMENTS_BAD, "NULL mechanism");
  const core::MechanismRow* row = core::find_mechanism(m->mechanism);
  require(row != nullptr, CKR_MECHANISM_INVALID, "mechanism not supported");
  require(m->ulParameterLen == 0 || m->pParameter != nullptr, CKR_MECHANISM_PARAM_INVALID,
          "NULL mechanism parameter with a length");
  MechanismParams p;
  p.type = m->mechanism;
  p.hash = row->digest;
  switch (row->param) {
    case core::ParamKind::none:
      require(m->ulParameterLen == 0, CKR_MECHANISM_PARAM_INVALID, "this mechanism takes no parameter");
      break;
    case core::ParamKind::pss: {
      const auto& pss = param_as<CK_RSA_PKCS_PSS_PARAMS>(m);
      p.hash = hash_of(pss.hash_alg);
      require(row->digest == 0 || row->digest == p.hash, CKR_MECHANISM_PARAM_INVALID,
              "PSS hash differs from the mechanism's hash");
      p.mgf_hash = mgf_hash(pss.mgf);
      // No key of this mechanism has an encoded message longer than max_key/8 bytes, so no salt can be
      // longer either; refusing here keeps a length near 2^64 from reaching any backend (each signer then
      // checks sLen <= emLen - hLen - 2 for its key).
      require(pss.s_len <= row->max_key / 8, CKR_MECHANISM_PARAM_INVALID, "PSS salt longer than any key allows");
      p.salt_len = pss.s_len;
      break;
    }
    case core::ParamKind::oaep: {
      const auto& oaep = param_as<CK_RSA_PKCS_OAEP_PARAMS>(m);
      p.hash = hash_of(oaep.hash_alg);
      p.mgf_hash = mgf_hash(oaep.mgf);
      require(oaep.source == 0 || oaep.source == CKZ_DATA_SPECIFIED, CKR_MECHANISM_PARAM_INVALID,
              "unsupported OAEP label source");
      p.label = param_bytes(oaep.source_data, oaep.source_data_len);
      break;
    }
    case core::ParamKind::iv16:
      require(m->ulParameterLen == 16, CKR_MECHANISM_PARAM_INVALID, "AES-CBC needs a 16-byte IV");
      p.iv = to_bytes(m->pParameter, 16);
      break;
    case core::ParamKind::ctr: {
      const auto& ctr = param_as<CK_AES_CTR_PARAMS>(m);
      require(ctr.counter_bits >= 1 && ctr.counter_bits <= 128, CKR_MECHANISM_PARAM_INVALID,
              "AES-CTR counter bits must be 1-128");
      p.counter_bits = ctr.counter_bits;
      p.iv = to_bytes(ctr.cb, 16);
      break;
    }
    case core::ParamKind::gcm: {
      const void* iv;
      CK_ULONG iv_len, aad_len, tag_bits;
      const void* aad;
      if (m->ulParameterLen == sizeof(GcmParamsNoIvBits)) {
        const auto& g = *static_cast<const GcmParamsNoIvBits*>(m->pParameter);
        iv = g.pIv, iv_len = g.ulIvLen, aad = g.pAAD, aad_len = g.ulAADLen, tag_bits = g.ulTagBits;
      } else {
        const auto& g = param_as<CK_GCM_PARAMS>(m);
        iv = g.iv_ptr, iv_len = g.iv_len, aad = g.aad_ptr, aad_len = g.aad_len, tag_bits = g.tag_bits;
      }
      require(iv_len >= 1 && iv_len <= 256, CKR_MECHANISM_PARAM_INVALID, "GCM IV must be 1-256 bytes");
      require(tag_bits >= 8 && tag_bits <= 128 && tag_bits % 8 == 0, CKR_MECHANISM_PARAM_INVALID,
              "GCM tag must be 8-128 bits in whole bytes");
      p.iv = param_bytes(iv, iv_len);
      p.aad = param_bytes(aad, aad_len);
      p.tag_bits = tag_bits;
      break;
    }
    case core::ParamKind::ecdh: {
      const auto& e = param_as<CK_ECDH1_DERIVE_PARAMS>(m);
      p.hash = x963_hash(e.kdf);
      require(e.kdf != CKD_NULL || e.shared_data_len == 0, CKR_MECHANISM_PARAM_INVALID, "CKD_NULL takes no shared data");
      require(e.public_data_len > 0, CKR_MECHANISM_PARAM_INVALID, "ECDH needs the other party's public value");
      p.kdf = e.kdf;
      p.shared_data = param_bytes(e.shared_data, e.shared_data_len);
      p.public_data = param_bytes(e.public_data, e.public_data_len);
      break;
    }
    case core::ParamKind::eddsa: {
      // The parameter is optional: without one CKM_EDDSA is pure EdDSA. Which variants the key's curve
      // allows is decided where the key is known (crypto/sign.cpp); here only the structure is checked.
      if (m->ulParameterLen == 0) break;
      const auto& e = param_as<CK_EDDSA_PARAMS>(m);
      require(e.phFlag == CK_FALSE || e.phFlag == CK_TRUE, CKR_MECHANISM_PARAM_INVALID, "phFlag is not a CK_BBOOL");
      require(e.ulContextDataLen <= 255, CKR_MECHANISM_PARAM_INVALID, "EdDSA context longer than 255 bytes");
      p.eddsa_params = true;
      p.eddsa_ph = e.phFlag == CK_TRUE;
      p.eddsa_context = param_bytes(e.pContextData, e.ulContextDataLen);
      break;
    }
    case core::ParamKind::optional_iv:
      require(m->ulParameterLen == 0, CKR_MECHANISM_PARAM_INVALID, "only the default key-wrap IV is supported");
      break;
    case core::ParamKind::hkdf: {
      const auto& h = param_as<CK_HKDF_PARAMS>(m);
      p.hkdf_extract = h.bExtract != CK_FALSE;
      p.hkdf_expand = h.bExpand != CK_FALSE;
      require(p.hkdf_extract || p.hkdf_expand, CKR_MECHANISM_PARAM_INVALID, "HKDF with neither extract nor expand");
      p.hash = hash_of(h.prfHashMechanism);
      if (p.hkdf_extract) {  // the salt only feeds the extract step; without it pSalt/hSaltKey are not read
        p.salt_type = h.ulSaltType;
        switch (h.ulSaltType) {
          case CKF_HKDF_SALT_NULL:
            require(h.ulSaltLen == 0, CKR_MECHANISM_PARAM_INVALID, "CKF_HKDF_SALT_NULL with salt data");
            break;
          case CKF_HKDF_SALT_DATA:
            require(h.ulSaltLen > 0, CKR_MECHANISM_PARAM_INVALID, "CKF_HKDF_SALT_DATA without salt data");
            p.salt = param_bytes(h.pSalt, h.ulSaltLen);
            break;
          case CKF_HKDF_SALT_KEY:
            require(h.hSaltKey != CK_INVALID_HANDLE, CKR_MECHANISM_PARAM_INVALID, "CKF_HKDF_SALT_KEY without a key");
            p.salt_key = h.hSaltKey;
            break;
          default:
            fail(CKR_MECHANISM_PARAM_INVALID, "unknown HKDF salt type");
        }
      }
      if (p.hkdf_expand) p.info = param_bytes(h.pInfo, h.ulInfoLen);
      break;
    }
  }
  return p;
}

core::OutSpec out_spec(const void* out, const CK_ULONG* len) {
  require(len != nullptr, CKR_ARGUMENTS_BAD, "NULL output length pointer");
  return core::OutSpec{out == nullptr, out ? static_cast<size_t>(*len) : 0};
}

CK_RV put_output(const core::OutResult& r, CK_BYTE_PTR out, CK_ULONG_PTR len) {
  *len = r.length;
  if (r.too_small) return CKR_BUFFER_TOO_SMALL;
  if (r.has_bytes && !r.bytes.empty()) std::memcpy(out, r.bytes.data(), r.bytes.size());
  return CKR_OK;
}

CK_RV put_bytes(ByteView bytes, CK_BYTE_PTR out, CK_ULONG_PTR len) {
  require(len != nullptr, CKR_ARGUMENTS_BAD, "NULL output length pointer");
  if (!out) {
    *len = bytes.size();
    return CKR_OK;
  }
  if (*len < bytes.size()) {
    *len = bytes.size();
    return CKR_BUFFER_TOO_SMALL;
  }
  if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
  *len = bytes.size();
  return CKR_OK;
}

// C_GetAttributeValue of a template-valued attribute (base spec 5.7.5, CKF_ARRAY_ATTRIBUTE): the value is
// count * sizeof(CK_ATTRIBUTE); given a large enough array, each element gets its type and, one level down,
// the same three-way rule as any attribute (NULL pValue: the length; large enough: the value; else
// CK_UNAVAILABLE_INFORMATION and CKR_BUFFER_TOO_SMALL). Returns false when something did not fit.
static bool get_template_value(CK_ATTRIBUTE& out, const SecureBytes& stored) {
  const core::AttributeMap nested = core::decode_template_value(view(stored));
  const CK_ULONG need = static_cast<CK_ULONG>(nested.size() * sizeof(CK_ATTRIBUTE));
  if (!out.pValue) {
    out.ulValueLen = need;
    return true;
  }
  if (out.ulValueLen < need) {
    out.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return false;
  }
  bool fits = true;
  auto* base = static_cast<uint8_t*>(out.pValue);
  size_t j = 0;
  for (const auto& [type, value] : nested) {
    CK_ATTRIBUTE a;
    std::memcpy(&a, base + j * sizeof(CK_ATTRIBUTE), sizeof a);
    a.type = type;
    if (!a.pValue) {
      a.ulValueLen = static_cast<CK_ULONG>(value.size());
    } else if (a.ulValueLen >= value.size()) {
      if (!value.empty()) std::memcpy(a.pValue, value.data(), value.size());
      a.ulValueLen = static_cast<CK_ULONG>(value.size());
    } else {
      a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
      fits = false;
    }
    std::memcpy(base + j * sizeof(CK_ATTRIBUTE), &a, sizeof a);
    ++j;
  }
  out.ulValueLen = need;
  return fits;
}

CK_RV get_attributes(const core::Object& obj, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
  require(t != nullptr || n == 0, CKR_ARGUMENTS_BAD, "NULL template with a non-zero count");
  bool sensitive = false, invalid = false, small = false;
  for (CK_ULONG i = 0; i < n; ++i) {
    CK_RV rv = core::check_read(obj.attrs, t[i].type);
    const SecureBytes* v = core::get_bytes(obj.attrs, t[i].type);
    if (rv == CKR_OK && !v) rv = obj.secrets_loaded ? CKR_ATTRIBUTE_TYPE_INVALID : CKR_ATTRIBUTE_SENSITIVE;
    if (rv != CKR_OK) {
      t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
      (rv == CKR_ATTRIBUTE_SENSITIVE ? sensitive : invalid) = true;
      continue;
    }
    if (core::is_template_attribute(t[i].type)) {
      if (!get_template_value(t[i], *v)) small = true;
      continue;
    }
    if (!t[i].pValue) {
      t[i].ulValueLen = v->size();
    } else if (t[i].ulValueLen >= v->size()) {
      if (!v->empty()) std::memcpy(t[i].pValue, v->data(), v->size());
      t[i].ulValueLen = v->size();
    } else {
      t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
      small = true;
    }
  }
  if (sensitive) return CKR_ATTRIBUTE_SENSITIVE;
  if (invalid) return CKR_ATTRIBUTE_TYPE_INVALID;
  if (small) return CKR_BUFFER_TOO_SMALL;
  return CKR_OK;
}

}  // namespace keyseal::pkcs11
