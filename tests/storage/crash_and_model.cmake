# Included from tests/storage/CMakeLists.txt.

# Model test: random operations against the real Log and a reference vector of records,
# over MemFileSystem, FaultInjectionFileSystem and a ManualClock.
sluice_add_test(storage_log_model_test log_model_test.cc LIBS sluice_storage LABELS model)

# Crash test: log_crash_test forks crash_child, which appends to a Log on the real disk
# from several threads until SIGKILL, then reopens the log and checks every acknowledged
# record. Slower than a unit test, so it carries its own labels instead of "unit".
add_executable(storage_crash_child crash_child.cc)
sluice_target_defaults(storage_crash_child)
target_include_directories(storage_crash_child PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(storage_crash_child PRIVATE sluice_storage)

add_executable(storage_log_crash_test log_crash_test.cc)
sluice_target_defaults(storage_log_crash_test)
target_include_directories(storage_log_crash_test PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(storage_log_crash_test
  PRIVATE SLUICE_CRASH_CHILD="$<TARGET_FILE:storage_crash_child>")
target_link_libraries(storage_log_crash_test PRIVATE sluice_storage GTest::gtest GTest::gtest_main)
add_dependencies(storage_log_crash_test storage_crash_child)

# 50 kill cycles under --fsync group plus a few under never and always (~1 min).
add_test(NAME storage_log_crash_test COMMAND storage_log_crash_test)
set_tests_properties(storage_log_crash_test PROPERTIES LABELS "crash" TIMEOUT 300)
# The same with a few hundred cycles.
add_test(NAME storage_log_crash_test_slow COMMAND storage_log_crash_test)
set_tests_properties(storage_log_crash_test_slow PROPERTIES
  LABELS "crash;slow" TIMEOUT 1800 ENVIRONMENT "SLUICE_CRASH_CYCLES=400")
