# Installing the docs and building the Debian package with CPack: `cpack -G DEB` in a build tree configured with
# -DCMAKE_INSTALL_PREFIX=/usr gives keyseal_<version>_amd64.deb (module in <libdir>/pkcs11/, p11-kit module file,
# the keyseal tool, docs in /usr/share/doc/keyseal). tests/package/deb_install.sh builds, installs and removes it.

# Docs: the README and every page under docs/ (cli.md, keystore.md, consumers/*.md, ...), keeping sub-folders.
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")

# The package installs exactly where `cmake --install` does: the module path compiled into the keyseal tool and
# written into the p11-kit module file is ${CMAKE_INSTALL_FULL_LIBDIR}/pkcs11, so both must agree.
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "keyseal packaging: CMAKE_INSTALL_PREFIX is ${CMAKE_INSTALL_PREFIX}; configure with "
                 "-DCMAKE_INSTALL_PREFIX=/usr for a .deb whose module lands where ssh-agent and p11-kit look")
endif()
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
# Stage with DESTDIR and the real prefix: the p11-kit module file is written at install time from
# CMAKE_INSTALL_PREFIX (cmake/install_p11kit_module.cmake), which would otherwise be CPack's staging directory.
set(CPACK_SET_DESTDIR ON)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "keyseal")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "keyseal")
set(CPACK_PACKAGE_CONTACT "keyseal maintainers <keyseal@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "PKCS#11 module binding private keys to one machine (TPM or soft token)")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
  "keyseal is a PKCS#11 3.0 module whose tokens keep private keys bound to this machine: in the TPM, or in\n"
  "an encrypted keystore whose key is derived from the PIN and the machine. It works with OpenSSL, p11-kit,\n"
  "NSS (Firefox, Chromium), ssh and ssh-agent, Java, GnuTLS and pkcs11-tool. The package contains the module,\n"
  "its p11-kit registration and the keyseal tool.")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")  # keyseal_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Depends come from the binaries' shared libraries (dpkg-shlibdeps): libc6, libstdc++6, libgcc-s1, libssl3,
# libsqlite3-0, libargon2-1. Nothing of p11-kit is needed to use the module directly (ssh, pkcs11-tool, Java);
# programs that load modules through p11-kit bring libp11-kit0 themselves, which reads our module file.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "p11-kit, opensc, libengine-pkcs11-openssl, gnutls-bin")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/keyseal")
include(CPack)

# The install test (installs into the real system, so only as root and only with the "package" label on a
# machine it may change; it restores everything it touched). Not in sanitizer builds: it builds its own tree.
if(KEYSEAL_BUILD_TESTS AND NOT KEYSEAL_SANITIZE AND NOT KEYSEAL_TSAN
   AND EXISTS ${CMAKE_SOURCE_DIR}/tests/package/deb_install.sh)
  add_test(NAME package.deb_install
           COMMAND ${CMAKE_SOURCE_DIR}/tests/package/deb_install.sh ${CMAKE_SOURCE_DIR}
                   ${CMAKE_BINARY_DIR}/package-test)
  set_tests_properties(package.deb_install PROPERTIES LABELS package TIMEOUT 3600 RUN_SERIAL TRUE
                       SKIP_RETURN_CODE 77)
endif()

# `cmake --install --prefix DIR` as an unprivileged user stays inside DIR and registers the module installed
# there with p11-kit (runs on this build tree; changes nothing outside a temporary directory).
if(KEYSEAL_BUILD_TESTS AND NOT WIN32 AND EXISTS ${CMAKE_SOURCE_DIR}/tests/package/prefix_install.sh)
  add_test(NAME package.prefix_install COMMAND ${CMAKE_SOURCE_DIR}/tests/package/prefix_install.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(package.prefix_install PROPERTIES LABELS "package;install" TIMEOUT 600 RUN_SERIAL TRUE
                       SKIP_RETURN_CODE 77)
endif()
