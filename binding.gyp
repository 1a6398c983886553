# The Node-API addon built by node-gyp (`npx node-gyp rebuild`): the same sources
# and settings as the cmake-js build (CMakeLists.txt). libtorch is located by
# scripts/torch-paths.cjs in the same order as cmake/FindTorchForPoser.cmake.
# The Node headers come from `nodedir` in .npmrc (no download).
{
  'targets': [
    {
      'target_name': 'poser_native',
      'sources': [
        "<!@(node -p \"require('fs').readdirSync('native/core').filter(f=>f.endsWith('.cpp')).sort().map(f=>'native/core/'+f).join(' ')\")",
        "<!@(node -p \"require('fs').readdirSync('native/addon').filter(f=>f.endsWith('.cpp')).sort().map(f=>'native/addon/'+f).join(' ')\")",
      ],
      'dependencies': [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except",
      ],
      'include_dirs': [
        'native/core',
        "<!(node -p \"require('node-addon-api').include_dir\")",
      ],
      'defines': [
        'NAPI_VERSION=8',
        'NAPI_CPP_EXCEPTIONS',
        'NODE_ADDON_API_DISABLE_DEPRECATED',
      ],
      # Node's common.gypi defines _GLIBCXX_USE_CXX11_ABI=1; libtorch's own ABI
      # (below, in cflags_cc) must win, so drop Node's.
      'defines!': ['_GLIBCXX_USE_CXX11_ABI=1'],
      'cflags!': ['-fno-exceptions', '-fno-rtti'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17'],
      'cflags_cc': [
        '-std=c++17',
        '-fexceptions',
        '-frtti',
        '-Wall',
        '-Wextra',
        # at::parallel_for is a header template that runs in parallel only when
        # compiled with OpenMP, as libtorch is.
        '-fopenmp',
        '-D<!(node scripts/torch-paths.cjs defines)',
        # libtorch's include directories, as -isystem so its headers raise no warnings.
        '<!@(node scripts/torch-paths.cjs cflags)',
      ],
      'library_dirs': ['<!@(node scripts/torch-paths.cjs library_dirs)'],
      'libraries': ['<!@(node scripts/torch-paths.cjs libraries)'],
      # Find libtorch at run time where it was found at build time.
      'ldflags': ['<!@(node scripts/torch-paths.cjs ldflags)', '-fopenmp'],
    },
  ],
}
