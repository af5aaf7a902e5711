/*
 * Files that must survive a crash: folders made as mkdir -p makes them,
 * and a folder's entries (a file created, a rename) made durable. Shared by
 * natprobe's spool and uploads and natcollect's store.
 */
#ifndef NATLAB_FILES_H
#define NATLAB_FILES_H

/* path and every folder above it, made where missing (0755): 0, or -1
 * with errno. */
int files_make_folders(const char *path);

/* fsync of a folder, so that what was created or renamed in it stays. */
int files_sync_folder(const char *folder);

#endif
