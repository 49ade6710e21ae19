# PgafPackage.cmake — filled in by the Debian packaging step (CPack); see ci/package.
