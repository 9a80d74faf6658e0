/** The virtual toy page at /toy: a toy in a browser tab, for demos and tests (see toy-app.tsx). */
import { render } from 'preact';
import { ToyApp } from './toy-app.js';
import { VirtualToy } from './virtual-toy.js';
import './toy.css';

const toy = new VirtualToy(location.origin);
render(<ToyApp toy={toy} />, document.getElementById('toy')!);
