# poser_link_openmp(target): compiles and links `target` with OpenMP, as
# libtorch is. at::parallel_for is a header template: compiled without OpenMP
# it runs every range on the calling thread, so the core's own kernels and its
# row splits would use one core.
function(poser_link_openmp target)
  find_package(OpenMP COMPONENTS CXX)
  if(OpenMP_CXX_FOUND)
    target_link_libraries(${target} PUBLIC OpenMP::OpenMP_CXX)
  else()
    message(WARNING "OpenMP not found: the core's CPU kernels and row splits will run on one thread")
  endif()
endfunction()
