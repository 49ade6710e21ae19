# PgafPackage.cmake — Debian packages with CPack (issue 11; `bash ci/package` builds them):
#   pgaf      pg_autoctl (in PostgreSQL's bindir, linked from /usr/bin), the pgautofailover and
#             pgaf_fence extensions for PostgreSQL 15, the pgaf@.service systemd template, docs;
#   pgaf-lab  the chaos lab, pgaf-sim and the scenarios, with the lab's network dependencies.
# pgaf conflicts with postgresql-15-auto-failover (and pg-auto-failover-cli): the same file names.
# Shared-library dependencies come from dpkg-shlibdeps (dpkg-dev).
# `install` (and CPack's preinstall) does not rebuild every target: ci/package and the package
# test build what the packages hold (pg_autoctl lab pgaf-sim pgautofailover pgaf_fence) first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pgaf)
set(CPACK_PACKAGE_VENDOR "pgaf")
set(CPACK_PACKAGE_CONTACT "pgaf developers <pgaf@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "PostgreSQL high availability (pg_auto_failover compatible)")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# absolute destinations (PostgreSQL's bindir, pkglibdir, sharedir) are staged with DESTDIR
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL pgaf lab)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

set(CPACK_DEBIAN_PGAF_PACKAGE_NAME pgaf)
set(CPACK_COMPONENT_PGAF_DESCRIPTION
    "pg_autoctl (pgaf) and the pgautofailover monitor extension for PostgreSQL 15\n"
    " A monitor that decides and an agent on every node that executes, with lease-based\n"
    " fencing, an HTTP health and Prometheus endpoint, hooks and a systemd unit template.")
set(CPACK_DEBIAN_PGAF_PACKAGE_DEPENDS "postgresql-15")
set(CPACK_DEBIAN_PGAF_PACKAGE_CONFLICTS "postgresql-15-auto-failover, pg-auto-failover-cli")
set(CPACK_DEBIAN_PGAF_PACKAGE_REPLACES "postgresql-15-auto-failover, pg-auto-failover-cli")

set(CPACK_DEBIAN_LAB_PACKAGE_NAME pgaf-lab)
set(CPACK_COMPONENT_LAB_DESCRIPTION
    "pgaf chaos lab: real formations in network namespaces, declarative faults\n"
    " lab run scenarios/*.yaml builds a formation in network namespaces, injects faults and\n"
    " checks invariants; pgaf-sim is the deterministic simulator. Needs root.")
set(CPACK_DEBIAN_LAB_PACKAGE_DEPENDS
    "pgaf (= ${PROJECT_VERSION}), iproute2, nftables, kmod, procps, util-linux, psmisc")
set(CPACK_COMPONENT_LAB_DEPENDS pgaf)

include(CPack)
