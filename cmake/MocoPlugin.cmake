# moco_add_plugin(NAME src...) builds plugins/<NAME>.so against the SDK
# library with hidden visibility: the entry object is the only export.
function(moco_add_plugin name)
  add_library(plugin_${name} MODULE ${ARGN})
  target_link_libraries(plugin_${name} PRIVATE moco_sdk m)
  set_target_properties(plugin_${name} PROPERTIES
    PREFIX "" OUTPUT_NAME "${name}"
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${MOCO_BUILD_PLUGIN_DIR})
  # Catch unresolved symbols at link time (sanitizer runtimes come from the
  # executable under clang, so not there).
  if(NOT MOCO_SANITIZE)
    target_link_options(plugin_${name} PRIVATE -Wl,--no-undefined)
  endif()
  install(TARGETS plugin_${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/moco/plugins)
endfunction()
