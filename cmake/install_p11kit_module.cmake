# Runs at install time (`cmake --install`, CPack), not at configure time: writes keyseal.module, p11-kit's
# registration of the module, naming the module where THIS install put it, into p11-kit's module config
# directory only when the install prefix is p11-kit's own (the .deb's /usr); any other prefix gets the same
# layout under the prefix, so an install never writes outside its prefix (DESTDIR staging still applies).
# In (set by src/pkcs11/CMakeLists.txt through install(CODE)): KEYSEAL_LIBDIR (CMAKE_INSTALL_LIBDIR),
# KEYSEAL_P11KIT_PREFIX and KEYSEAL_P11KIT_CONFIGS (p11-kit's prefix and absolute config dir, from pkg-config),
# KEYSEAL_P11KIT_CONFIGS_REL (that dir relative to a prefix).
get_filename_component(_ks_prefix "${CMAKE_INSTALL_PREFIX}" ABSOLUTE)
get_filename_component(_ks_p11_prefix "${KEYSEAL_P11KIT_PREFIX}" ABSOLUTE)
if(IS_ABSOLUTE "${KEYSEAL_LIBDIR}")
  set(_ks_libdir "${KEYSEAL_LIBDIR}")
else()
  set(_ks_libdir "${_ks_prefix}/${KEYSEAL_LIBDIR}")
endif()
if(KEYSEAL_P11KIT_CONFIGS AND _ks_prefix STREQUAL _ks_p11_prefix)
  set(_ks_dest "${KEYSEAL_P11KIT_CONFIGS}")
else()
  set(_ks_dest "${_ks_prefix}/${KEYSEAL_P11KIT_CONFIGS_REL}")
endif()
set(_ks_file "${_ks_dest}/keyseal.module")
message(STATUS "Installing: $ENV{DESTDIR}${_ks_file} (module: ${_ks_libdir}/pkcs11/libkeyseal.so)")
file(WRITE "$ENV{DESTDIR}${_ks_file}"
     "# p11-kit module registration for keyseal (written by its install into p11-kit's module config directory).\n"
     "module: ${_ks_libdir}/pkcs11/libkeyseal.so\n"
     "critical: no\n")
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_ks_file}")
if(IS_ABSOLUTE "${_ks_file}" AND NOT _ks_file MATCHES "^${_ks_prefix}/")
  list(APPEND CMAKE_ABSOLUTE_DESTINATION_FILES "${_ks_file}")  # CPack's bookkeeping of absolute destinations
endif()
