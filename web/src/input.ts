/**
 * The ways a photo arrives: dropped anywhere on the page, chosen with the file picker, taken
 * with the camera (phones: `capture`), or pasted from the clipboard.
 */

/** A photo the person gave, with a name to send it under. */
export interface Photo {
  readonly blob: Blob;
  readonly name: string;
}

/** The controls of {@link acceptPhotos}. */
export interface PhotoInputs {
  /** Where a drop is shown as welcome. */
  readonly dropZone: HTMLElement;
  readonly picker: HTMLInputElement;
  readonly pickButton: HTMLButtonElement;
  readonly camera: HTMLInputElement;
  readonly cameraButton: HTMLButtonElement;
}

/** The first file of a list, or the first pasted image. */
function firstFile(files: FileList | null | undefined): Photo | undefined {
  const file = files?.[0];
  return file ? { blob: file, name: file.name || 'photo' } : undefined;
}

/**
 * Calls `onPhoto` with each photo the person gives, while `enabled()` says photos are welcome
 * (signed in, not busy).
 */
export function acceptPhotos(inputs: PhotoInputs, enabled: () => boolean, onPhoto: (photo: Photo) => void): void {
  const take = (photo: Photo | undefined): void => {
    if (photo && enabled()) onPhoto(photo);
  };

  inputs.pickButton.addEventListener('click', () => inputs.picker.click());
  inputs.cameraButton.addEventListener('click', () => inputs.camera.click());
  for (const input of [inputs.picker, inputs.camera]) {
    input.addEventListener('change', () => {
      take(firstFile(input.files));
      // Choosing the same file again must fire `change` again.
      input.value = '';
    });
  }
  // Phones and tablets: a button that opens the camera directly.
  inputs.cameraButton.hidden = !window.matchMedia('(pointer: coarse)').matches;

  let depth = 0;
  const highlight = (on: boolean): void => void inputs.dropZone.classList.toggle('dragging', on);
  document.addEventListener('dragenter', (event) => {
    if (!event.dataTransfer?.types.includes('Files')) return;
    depth++;
    highlight(enabled());
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) highlight(false);
  });
  document.addEventListener('dragover', (event) => {
    // Without this the browser opens the dropped file instead of handing it to the page.
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = enabled() ? 'copy' : 'none';
  });
  document.addEventListener('drop', (event) => {
    event.preventDefault();
    depth = 0;
    highlight(false);
    take(firstFile(event.dataTransfer?.files));
  });

  document.addEventListener('paste', (event) => {
    const item = [...(event.clipboardData?.items ?? [])].find((i) => i.kind === 'file');
    const file = item?.getAsFile();
    if (!file) return;
    event.preventDefault();
    take({ blob: file, name: file.name || 'pasted' });
  });
}
