# Debian packages with CPack (cpack -G DEB in a build folder; `bash scripts/fcs.sh package`):
#   fcs-failover-server  the programs (fcs-failover-server, fcs-switchover, fcs-adapter-check) in
#                        /usr/bin, the systemd unit, the service user (sysusers.d), /var/lib/fcs
#                        made by the maintainer scripts with its owner and mode
#   fcs-dev              the headers and the CMake package config (find_package(fcs CONFIG))
# The component names are the install() COMPONENTs: server, dev.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fcs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# The Maintainer field; set your own (a placeholder until the project names one).
set(FCS_DEB_MAINTAINER "fcs maintainers <fcs-maintainers@example.org>" CACHE STRING
    "Maintainer of the Debian packages")
set(CPACK_PACKAGE_CONTACT "${FCS_DEB_MAINTAINER}")
set(CPACK_PACKAGE_VENDOR "fcs")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME fcs-failover-server)
set(CPACK_DEBIAN_SERVER_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "systemd")
# The first line is the synopsis; CPack indents the others (no leading spaces here, < 80).
set(CPACK_COMPONENT_SERVER_DESCRIPTION
  "failover HTTPS server with an fcs-managed TLS certificate
fcs-failover-server serves a REST API over HTTPS on a certificate it
generates on the first start and lets an administrator replace safely;
it reloads on a change or SIGHUP, reports to systemd (Type=notify,
watchdog) and the journal, and exposes Prometheus metrics.
fcs-switchover manages the identical server-group certificate of a
switchover pair; fcs-adapter-check connects the way the vendor's
adapters do.")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
  ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME fcs-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "android-libboringssl-dev, libacl1-dev, nlohmann-json3-dev (>= 3.11), libboost-dev (>= 1.74), librange-v3-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "libsystemd-dev, libspdlog-dev")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "header-only C++20 toolkit for failover TLS certificates (headers)
fcs keeps one certificate and key in a folder or etcd: generated on the
first start, replaced safely, reloaded without a restart, checked for
expiry. Header-only over BoringSSL; this package holds the headers and
the CMake package config (find_package(fcs CONFIG)).")

# What both packages carry in /usr/share/doc/PACKAGE (Debian policy: copyright, changelog).
foreach(pkg fcs-failover-server fcs-dev)
  if(pkg STREQUAL "fcs-dev")
    set(comp dev)
  else()
    set(comp server)
  endif()
  set(changelog ${CMAKE_CURRENT_BINARY_DIR}/deb/${pkg}/changelog.Debian)
  string(TIMESTAMP fcs_deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
  file(WRITE ${changelog}
    "${pkg} (${PROJECT_VERSION}-1) unstable; urgency=medium\n\n"
    "  * Built from the fcs tree with CPack.\n\n"
    " -- ${CPACK_PACKAGE_CONTACT}  ${fcs_deb_date}\n")
  # Made now, not at build time: `cmake --install` without a build must find it. -n: no name
  # or time stamp in the header (lintian: package-contains-timestamped-gzip).
  execute_process(COMMAND gzip -n -9 -c ${changelog} OUTPUT_FILE ${changelog}.gz
    RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "fcs: gzip ${changelog} failed")
  endif()
  install(FILES ${changelog}.gz ${PROJECT_SOURCE_DIR}/packaging/debian/copyright
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${comp})
endforeach()
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/fcs-failover-server
  COMPONENT server)
install(FILES packaging/fcs-failover-server.service DESTINATION lib/systemd/system COMPONENT server)
install(FILES packaging/fcs-failover-server.sysusers DESTINATION lib/sysusers.d
  RENAME fcs-failover-server.conf COMPONENT server)
install(FILES packaging/fcs-alerts.yml DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/fcs-failover-server/examples
  COMPONENT server)
include(CPack)
