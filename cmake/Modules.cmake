# automl_module_headers(<target> <module>): <target> exposes the headers of the folder <module>/
# as "<module>/name.h" through an include root of its own (links in the build tree), so that
# only targets that link <target> can include them. There is no project-wide include root: an
# include that breaks the layering (README, "Layout") fails to compile.
function(automl_module_headers target module)
  set(root ${CMAKE_BINARY_DIR}/include/${target})
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}/${module}
       ${PROJECT_SOURCE_DIR}/${module}/*.h)
  foreach(header ${headers})
    get_filename_component(folder ${root}/${module}/${header} DIRECTORY)
    file(MAKE_DIRECTORY ${folder})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${module}/${header} ${root}/${module}/${header}
         SYMBOLIC)
  endforeach()
  target_include_directories(${target} PUBLIC ${root})
endfunction()
