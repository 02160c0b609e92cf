# Imported targets are visible only in the directory that created them. When
# lightning.cpp is a subproject (add_subdirectory, FetchContent), the parent's
# targets that link lightning::lightning need libtorch's targets too, e.g.
# Torch's torch_library, whose properties read $<TARGET_PROPERTY:torch_cpu,...>,
# and for a static library those of its private dependencies (zlib, yaml-cpp,
# threads). The project makes the imported targets that its own find_package
# calls created global (IMPORTED_GLOBAL); those the parent had already imported
# are the parent's and stay as they are.
#
#   lightning_imported_before(<var> <name>...)   before the find_package calls:
#                                                which names are targets already
#   lightning_make_imported_global(<before> <name>...)   after them
#
# CMake 3.21 and newer list the directory's imported targets themselves
# (IMPORTED_TARGETS); older ones use the names given.
function(lightning_imported_before var)
  set(existing "")
  foreach(name IN LISTS ARGN)
    if(TARGET ${name})
      list(APPEND existing ${name})
    endif()
  endforeach()
  set(${var} "${existing}" PARENT_SCOPE)
endfunction()

function(lightning_make_imported_global before)
  if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.21)
    get_directory_property(names IMPORTED_TARGETS)
  else()
    set(names ${ARGN})
  endif()
  foreach(name IN LISTS names)
    if(TARGET ${name} AND NOT name IN_LIST before)
      get_target_property(imported ${name} IMPORTED)
      get_target_property(global ${name} IMPORTED_GLOBAL)
      if(imported AND NOT global)
        set_target_properties(${name} PROPERTIES IMPORTED_GLOBAL TRUE)
      endif()
    endif()
  endforeach()
endfunction()
